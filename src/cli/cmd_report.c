/*
 * cmd_report.c - `shadowctl report`: the review-board report of a run as one
 * self-contained HTML file, or JSON / JUnit XML / Markdown. Stage: cli.
 * Reference: issue 5, report/report.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "cli/cli.h"
#include "gate/gate.h"
#include "report/report.h"
#include "store/db.h"
#include "util/config.h"

enum { OPT_DB = 1, OPT_RUN, OPT_OUT, OPT_FORMAT, OPT_CONFIG, OPT_SET, OPT_TEMPLATES };

static const struct sc_opt opts[] = {
  {OPT_DB, "db", 0, SC_ARG_REQUIRED, "FILE", "Results database (default results.db)."},
  {OPT_RUN, "run", 0, SC_ARG_REQUIRED, "ID", "Run to report: a run id or 'latest' (default)."},
  {OPT_OUT, "output", 'o', SC_ARG_REQUIRED, "FILE", "Output file ('-' for stdout; default report.html)."},
  {OPT_FORMAT, "format", 'f', SC_ARG_REQUIRED, "FMT",
   "html (default), json, junit or markdown; guessed from the -o extension when not given."},
  {OPT_CONFIG, "config", 'c', SC_ARG_REQUIRED, "FILE",
   "shadow.yaml whose acceptance criteria the verdict section shows (default: built-in criteria)."},
  {OPT_SET, "set", 0, SC_ARG_REQUIRED, "KEY=VALUE", SC_CLI_SET_HELP},
  {OPT_TEMPLATES, "templates", 0, SC_ARG_REQUIRED, "DIR",
   "Render the HTML from the templates in DIR (report.html.tmpl, style.css, criteria.html.tmpl, "
   "examples.html.tmpl; a file missing there uses the built-in copy). Default: $SHADOWCTL_TEMPLATES, else the "
   "templates built into the binary (the installed share/shadowctl/templates are copies to start from)."},
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_report_desc = {
  .name = "report",
  .synopsis = "[--db FILE] [--run ID|latest] [-o FILE] [--format html|json|junit|markdown] [--config FILE]",
  .summary = "write the review-board report of a run (HTML, JSON, JUnit, Markdown)",
  .description =
      "Writes one self-contained HTML page (inline CSS and SVG charts, no script, nothing fetched) with "
      "the verdict and criteria table, run facts, latency per target, errors by kind, decisions (flip "
      "matrix, positive rates, score deltas), FPR/TPR/precision when labels exist, the fields that "
      "differ most beside their noise rate with example exchanges, and the step timeline of a "
      "progressive run. Every captured value is HTML-escaped. JSON is the same model for tools, JUnit "
      "has one test case per criterion, Markdown suits a pull-request comment.",
  .opts = opts,
  .epilogue = "Exit status: 0 the report was written (whatever the verdict; use 'shadowctl gate' to gate); "
              "1 it could not be written; 2 usage or input error.\n"
              "Example: shadowctl report --db results.db -o report.html",
};

static int guess_format(const char *out) {
  const char *dot = strrchr(out, '.');
  if (!dot) return SC_REPORT_HTML;
  if (!strcmp(dot, ".json")) return SC_REPORT_JSON;
  if (!strcmp(dot, ".xml")) return SC_REPORT_JUNIT;
  if (!strcmp(dot, ".md")) return SC_REPORT_MARKDOWN;
  return SC_REPORT_HTML;
}

int cmd_report(int argc, char **argv) {
  const struct sc_cmd_desc *d = &cmd_report_desc;
  const char *db_path = "results.db", *run_spec = "latest", *out = "report.html", *config = NULL,
             *templates = getenv("SHADOWCTL_TEMPLATES");
  struct sc_cli_sets sets = {{0}, 0};
  int format = -1, ret = SC_EXIT_USAGE, cfg_ok = 0;
  struct sc_config cfg;
  sqlite3 *db = NULL;
  struct sc_gate_result g;
  sc_gate_result_init(&g);
  struct sc_report r;
  sc_report_init(&r);
  struct sc_buf buf;
  sc_buf_init(&buf, SC_REPORT_MAX_BYTES);
  struct sc_error err;
  sc_error_init(&err);

  struct sc_optparser op;
  sc_opts_begin(&op, d, argc, argv);
  int id;
  const char *arg;
  while ((id = sc_opts_next(&op, &arg)) != SC_OPT_END) {
    switch (id) {
    case SC_OPT_HELP: sc_opts_print_help(stdout, d); ret = SC_EXIT_OK; goto out;
    case SC_OPT_ERROR: goto out;
    case OPT_DB: db_path = arg; break;
    case OPT_RUN: run_spec = arg; break;
    case OPT_OUT: out = arg; break;
    case OPT_CONFIG: config = arg; break;
    case OPT_SET:
      if (sc_cli_sets_add(&sets, d, arg)) goto out;
      break;
    case OPT_TEMPLATES: templates = arg; break;
    case OPT_FORMAT:
      format = sc_report_format_parse(arg);
      if (format < 0) {
        sc_opts_usage_error(d, "unknown --format '%s' (html, json, junit or markdown)", arg);
        goto out;
      }
      break;
    default: goto out;
    }
  }
  if (op.optind < argc) {
    sc_opts_usage_error(d, "unexpected argument '%s'", argv[op.optind]);
    goto out;
  }
  if (format < 0) format = guess_format(out);
  int rc = sc_config_init_defaults(&cfg);
  cfg_ok = 1;
  if (rc) { sc_error_set(&err, rc, "out of memory"); ret = sc_cli_error(d->name, &err); goto out; }
  if (sc_cli_load_config(&cfg, config, &sets, &err)) { ret = sc_cli_error(d->name, &err); goto out; }
  if (sc_db_open(&db, db_path, 0, &err)) { ret = sc_cli_error(d->name, &err); goto out; }
  int64_t run_id;
  if (sc_analyze_resolve_run(db, run_spec, &run_id, &err)) { ret = sc_cli_error(d->name, &err); goto out; }
  if (sc_gate_eval(db, run_id, -1, &cfg, &g, &err)) {
    sc_error_prefix(&err, "run %lld", (long long)run_id);
    ret = sc_cli_error(d->name, &err);
    goto out;
  }
  if (format == SC_REPORT_JUNIT) {
    char suite[64];
    snprintf(suite, sizeof suite, "shadowctl gate run %lld", (long long)run_id);
    rc = sc_report_junit(&g, suite, &buf, &err);
  } else {
    rc = sc_report_load(&r, db, run_id, &g, &err);
    if (!rc) {
      if (format == SC_REPORT_JSON) rc = sc_report_json(&r, &buf, &err);
      else if (format == SC_REPORT_MARKDOWN) rc = sc_report_markdown(&r, &buf, &err);
      else {
        r.template_dir = templates && templates[0] ? templates : NULL;
        rc = sc_report_html(&r, &buf, &err);
      }
    }
  }
  if (rc || sc_report_write_file(out, buf.p, buf.len, &err)) {
    ret = sc_cli_error(d->name, &err);
    goto out;
  }
  if (strcmp(out, "-")) fprintf(stderr, "shadowctl report: run %lld (%s) -> %s\n", (long long)run_id,
                                sc_gate_status_str(g.verdict), out);
  ret = SC_EXIT_OK;
out:
  sc_opts_end(&op);
  sc_buf_release(&buf);
  sc_report_release(&r);
  sc_gate_result_release(&g);
  if (db) sc_db_close(db);
  if (cfg_ok) sc_config_release(&cfg);
  return ret;
}

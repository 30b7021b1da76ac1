/*
 * cmd_gate.c - `shadowctl gate`: evaluates the acceptance criteria of a run
 * (shadow.yaml and/or --criterion flags), prints a table, writes
 * verdict.json / JUnit on request and exits 0 pass, 1 breach, 3
 * inconclusive, 2 usage or input error. Stage: cli. Reference: issue 5,
 * gate/gate.h (judgement rules), schemas/analysis.sql (metric names).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "cli/cli.h"
#include "gate/gate.h"
#include "report/report.h"
#include "store/db.h"
#include "util/config.h"

enum { OPT_DB = 1, OPT_CONFIG, OPT_SET, OPT_RUN, OPT_STEP, OPT_JUNIT, OPT_VERDICT, OPT_CRITERION, OPT_JSON };

static const struct sc_opt opts[] = {
  {OPT_DB, "db", 0, SC_ARG_REQUIRED, "FILE", "Results database (default results.db)."},
  {OPT_CONFIG, "config", 'c', SC_ARG_REQUIRED, "FILE",
   "shadow.yaml with the acceptance criteria (default: the built-in criteria)."},
  {OPT_SET, "set", 0, SC_ARG_REQUIRED, "KEY=VALUE", SC_CLI_SET_HELP},
  {OPT_RUN, "run", 0, SC_ARG_REQUIRED, "ID", "Run to judge: a run id or 'latest' (default)."},
  {OPT_STEP, "step", 0, SC_ARG_REQUIRED, "N", "Judge only progressive step N (0-based) instead of the whole run."},
  {OPT_CRITERION, "criterion", 0, SC_ARG_REQUIRED, "EXPR",
   "An acceptance criterion 'METRIC OP VALUE' (OP: <= < >= > ==), e.g. 'latency_p99_ratio<=1.2' or "
   "'abs(positive_rate_delta)<=2%'. Repeatable. Without --config these replace the built-in criteria; "
   "with it they are added."},
  {OPT_JUNIT, "junit", 0, SC_ARG_REQUIRED, "FILE", "Also write JUnit XML (one test case per criterion)."},
  {OPT_VERDICT, "verdict", 0, SC_ARG_REQUIRED, "FILE",
   "Also write verdict.json: every criterion with value, interval, result and reason."},
  {OPT_JSON, "json", 0, SC_ARG_NONE, NULL, "Print the verdict JSON on stdout instead of the table."},
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_gate_desc = {
  .name = "gate",
  .synopsis = "[--db FILE] [--config shadow.yaml] [--run ID|latest] [--criterion EXPR]... "
              "[--junit FILE] [--verdict FILE]",
  .summary = "judge a run against acceptance criteria (exit 0 pass, 1 breach, 3 inconclusive)",
  .description =
      "Evaluates each acceptance criterion on the run's metrics (analysing the run first if it was not "
      "analysed yet) and prints one line per criterion: threshold, measured value with its interval, "
      "result and reason. A criterion whose metric was not measured, has too few samples, or whose "
      "sample cannot detect its threshold (minimum detectable effect larger than the margin) is "
      "inconclusive, never a pass. Criteria that need labels (fpr, tpr, ...) are inconclusive without "
      "them.",
  .opts = opts,
  .epilogue = "Exit status: 0 every criterion passed; 1 a criterion was breached (named on the last line) "
              "or the job failed; 2 usage or input error (bad flag, broken shadow.yaml reported as "
              "FILE:LINE:COLUMN, missing database or run); 3 inconclusive.\n"
              "Example: shadowctl gate --db results.db --config shadow.yaml --junit gate.xml "
              "--verdict verdict.json",
};

/* One row per criterion; the name and threshold columns are as wide as their
 * longest entry (criteria from shadow.yaml may carry long readable names). */
static void print_table(FILE *f, const struct sc_gate_result *g) {
  int wn = (int)strlen("CRITERION"), wt = (int)strlen("THRESHOLD");
  char(*thr)[48] = calloc(g->n ? g->n : 1, sizeof *thr);
  if (!thr) return;
  for (size_t i = 0; i < g->n; i++) {
    const struct sc_gate_item *it = &g->items[i];
    snprintf(thr[i], sizeof thr[i], "%s%s %g", it->use_abs ? "|x| " : "", it->op, it->effective);
    int l = (int)strlen(it->name);
    if (l > wn) wn = l > 60 ? 60 : l;
    l = (int)strlen(thr[i]);
    if (l > wt) wt = l;
  }
  fprintf(f, "%-*s  %-*s  %-34s %8s  %-14s %s\n", wn, "CRITERION", wt, "THRESHOLD", "MEASURED [INTERVAL]", "N",
          "RESULT", "REASON");
  for (size_t i = 0; i < g->n; i++) {
    const struct sc_gate_item *it = &g->items[i];
    char val[96];
    if (!it->has_value) snprintf(val, sizeof val, "not measured");
    else if (!isnan(it->ci_lo) && !isnan(it->ci_hi))
      snprintf(val, sizeof val, "%.4g [%.4g, %.4g]", it->value, it->ci_lo, it->ci_hi);
    else snprintf(val, sizeof val, "%.4g", it->value);
    fprintf(f, "%-*s  %-*s  %-34s %8lld  %-14s %s\n", wn, it->name, wt, thr[i], val, (long long)it->n,
            sc_gate_status_str(it->status), it->reason);
  }
  free(thr);
}

static int write_json(const char *path, json_t *j, struct sc_error *err) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
  if (!s) return sc_error_set(err, SC_ENOMEM, "out of memory");
  size_t n = strlen(s);
  char *t = realloc(s, n + 2);
  if (!t) { free(s); return sc_error_set(err, SC_ENOMEM, "out of memory"); }
  t[n] = '\n';
  t[n + 1] = '\0';
  int rc = sc_report_write_file(path, t, n + 1, err);
  free(t);
  return rc;
}

int cmd_gate(int argc, char **argv) {
  const struct sc_cmd_desc *d = &cmd_gate_desc;
  const char *db_path = "results.db", *config = NULL, *run_spec = "latest", *junit = NULL, *verdict = NULL;
  struct sc_cli_sets sets = {{0}, 0};
  int step = -1, json_out = 0, ret = SC_EXIT_USAGE, rc;
  struct sc_criterion *flags = NULL, *all = NULL;
  size_t nflags = 0, nall = 0;
  struct sc_config cfg;
  int cfg_ok = 0;
  sqlite3 *db = NULL;
  struct sc_gate_result g;
  sc_gate_result_init(&g);
  struct sc_error err;
  sc_error_init(&err);
  struct sc_buf xml;
  sc_buf_init(&xml, 16u << 20);
  json_t *vj = NULL;

  struct sc_optparser op;
  sc_opts_begin(&op, d, argc, argv);
  int id;
  const char *arg;
  while ((id = sc_opts_next(&op, &arg)) != SC_OPT_END) {
    switch (id) {
    case SC_OPT_HELP: sc_opts_print_help(stdout, d); ret = SC_EXIT_OK; goto out;
    case SC_OPT_ERROR: goto out;
    case OPT_DB: db_path = arg; break;
    case OPT_CONFIG: config = arg; break;
    case OPT_SET:
      if (sc_cli_sets_add(&sets, d, arg)) goto out;
      break;
    case OPT_RUN: run_spec = arg; break;
    case OPT_STEP: {
      unsigned long long v;
      if (sc_parse_u64(d, "--step", arg, &v)) goto out;
      if (v > 1000000) { sc_opts_usage_error(d, "--step %s is out of range", arg); goto out; }
      step = (int)v;
      break;
    }
    case OPT_JUNIT: junit = arg; break;
    case OPT_VERDICT: verdict = arg; break;
    case OPT_JSON: json_out = 1; break;
    case OPT_CRITERION: {
      struct sc_criterion *nf = realloc(flags, (nflags + 1) * sizeof *nf);
      if (!nf) { sc_error_set(&err, SC_ENOMEM, "out of memory"); ret = sc_cli_error(d->name, &err); goto out; }
      flags = nf;
      if (sc_gate_criterion_parse(arg, &flags[nflags], &err)) { ret = sc_cli_error(d->name, &err); goto out; }
      nflags++;
      break;
    }
    default: goto out;
    }
  }
  if (op.optind < argc) {
    sc_opts_usage_error(d, "unexpected argument '%s'", argv[op.optind]);
    goto out;
  }
  rc = sc_config_init_defaults(&cfg);
  cfg_ok = 1;
  if (rc) { sc_error_set(&err, rc, "out of memory"); ret = sc_cli_error(d->name, &err); goto out; }
  if (sc_cli_load_config(&cfg, config, &sets, &err)) { ret = sc_cli_error(d->name, &err); goto out; }

  /* Criteria: config (or built-in defaults) plus flags; flags alone replace defaults. */
  size_t nbase = (nflags && !config) ? 0 : cfg.n_criteria;
  nall = nbase + nflags;
  all = calloc(nall ? nall : 1, sizeof *all);
  if (!all) { sc_error_set(&err, SC_ENOMEM, "out of memory"); ret = sc_cli_error(d->name, &err); goto out; }
  for (size_t i = 0; i < nbase; i++) all[i] = cfg.criteria[i];       /* borrowed */
  for (size_t i = 0; i < nflags; i++) all[nbase + i] = flags[i];     /* borrowed */

  if (sc_db_open(&db, db_path, 0, &err)) { ret = sc_cli_error(d->name, &err); goto out; }
  int64_t run_id;
  if (sc_analyze_resolve_run(db, run_spec, &run_id, &err)) { ret = sc_cli_error(d->name, &err); goto out; }
  if (sc_gate_eval_criteria(db, run_id, step, &cfg, all, nall, &g, &err)) {
    sc_error_prefix(&err, "run %lld", (long long)run_id);
    ret = sc_cli_error(d->name, &err);
    goto out;
  }
  vj = sc_report_verdict_json(&g);
  if (!vj) { sc_error_set(&err, SC_ENOMEM, "out of memory"); ret = sc_cli_error(d->name, &err); goto out; }
  if (verdict && write_json(verdict, vj, &err)) { ret = sc_cli_error(d->name, &err); goto out; }
  if (junit) {
    char suite[64];
    snprintf(suite, sizeof suite, "shadowctl gate run %lld", (long long)run_id);
    if (sc_report_junit(&g, suite, &xml, &err) || sc_report_write_file(junit, xml.p, xml.len, &err)) {
      ret = sc_cli_error(d->name, &err);
      goto out;
    }
  }
  if (json_out) {
    if (json_dumpf(vj, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0) fputc('\n', stdout);
  } else {
    if (step >= 0) printf("run %lld step %d\n", (long long)run_id, step);
    else printf("run %lld\n", (long long)run_id);
    print_table(stdout, &g);
    char names[1024];
    sc_gate_breached_names(&g, names, sizeof names);
    if (g.verdict == SC_GATE_FAIL) printf("verdict: FAIL (breached: %s)\n", names);
    else if (g.verdict == SC_GATE_PASS) printf("verdict: PASS\n");
    else printf("verdict: INCONCLUSIVE (%s)\n", g.n ? "not enough evidence for every criterion" : "no criteria");
  }
  fflush(stdout);
  ret = sc_gate_exit_status(g.verdict);
out:
  sc_opts_end(&op);
  json_decref(vj);
  sc_buf_release(&xml);
  sc_gate_result_release(&g);
  if (db) sc_db_close(db);
  free(all);
  for (size_t i = 0; i < nflags; i++) sc_gate_criterion_release(&flags[i]);
  free(flags);
  if (cfg_ok) sc_config_release(&cfg);
  return ret;
}

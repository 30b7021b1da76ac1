/*
 * cmd_labels.c - `shadowctl labels import`: joins ground-truth outcomes to
 * recorded requests by request key. Stage: cli (over analyze). Reference:
 * RFC 4180 (CSV), JSON Lines, schemas/analysis.sql (labels, label_imports).
 */
#include <stdio.h>
#include <string.h>

#include "analyze/analyze.h"
#include "cli/cli.h"
#include "store/db.h"

enum { OPT_DB = 1, OPT_FORMAT, OPT_KEY, OPT_LABEL, OPT_POSITIVE };

static const struct sc_opt opts[] = {
  {OPT_DB, "db", 'd', SC_ARG_REQUIRED, "FILE", "Results database (required; created if missing)."},
  {OPT_FORMAT, "format", 'f', SC_ARG_REQUIRED, "csv|jsonl",
   "Input format (default: from the extension .csv/.jsonl/.ndjson, else sniffed)."},
  {OPT_KEY, "key-column", 'k', SC_ARG_REQUIRED, "NAME",
   "Column (CSV header) or field (JSON) holding the request key (default: request_key, txn_id, key or id)."},
  {OPT_LABEL, "label-column", 'l', SC_ARG_REQUIRED, "NAME", "Column or field holding the label (default: label)."},
  {OPT_POSITIVE, "positive", 'p', SC_ARG_REQUIRED, "VALUE",
   "Label value that means positive (exact match; default: 1, true, fraud, positive or yes, any case)."},
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_labels_desc = {
  .name = "labels",
  .synopsis = "import --db FILE [--format csv|jsonl] [--key-column NAME] [--label-column NAME] [--positive VALUE] LABELS",
  .summary = "import ground-truth labels (CSV or JSON lines) keyed by request key",
  .description =
      "Reads labels (CSV with a header row and RFC 4180 quoting, or one JSON object per line) and stores "
      "them in the labels table keyed by request key (a later import of the same key replaces it). Keys "
      "and labels are stored verbatim. Prints how many keys matched recorded exchanges. Run "
      "'shadowctl analyze' afterwards to compute FPR, TPR and precision per target.",
  .opts = opts,
  .epilogue =
      "Exit status:\n"
      "  0  imported (unmatched keys are reported, not an error)\n"
      "  1  database error\n"
      "  2  usage error, unreadable or malformed labels file (FILE:LINE: message); nothing is imported\n"
      "\n"
      "Examples:\n"
      "  shadowctl labels import --db results.db --key-column txn_id --positive fraud outcomes.csv\n"
      "  shadowctl labels import --db results.db labels.jsonl && shadowctl analyze --db results.db\n",
};

int cmd_labels(int argc, char **argv) {
  const char *dbpath = NULL;
  struct sc_labels_opts lo = {0};
  struct sc_optparser op;
  sc_opts_begin(&op, &cmd_labels_desc, argc, argv);
  int id;
  const char *arg;
  while ((id = sc_opts_next(&op, &arg)) != SC_OPT_END) {
    switch (id) {
    case SC_OPT_HELP: sc_opts_print_help(stdout, &cmd_labels_desc); sc_opts_end(&op); return SC_EXIT_OK;
    case SC_OPT_ERROR: sc_opts_end(&op); return SC_EXIT_USAGE;
    case OPT_DB: dbpath = arg; break;
    case OPT_FORMAT:
      if (!strcmp(arg, "csv")) lo.format = SC_LABELS_CSV;
      else if (!strcmp(arg, "jsonl") || !strcmp(arg, "ndjson")) lo.format = SC_LABELS_JSONL;
      else {
        sc_opts_usage_error(&cmd_labels_desc, "--format '%s': expected csv or jsonl", arg);
        sc_opts_end(&op);
        return SC_EXIT_USAGE;
      }
      break;
    case OPT_KEY: lo.key_column = arg; break;
    case OPT_LABEL: lo.label_column = arg; break;
    case OPT_POSITIVE: lo.positive = arg; break;
    }
  }
  int first = op.optind;
  sc_opts_end(&op);
  if (first >= argc || strcmp(argv[first], "import")) {
    sc_opts_usage_error(&cmd_labels_desc, first >= argc ? "missing subcommand (expected 'import')"
                                                        : "unknown subcommand '%s' (expected 'import')",
                        first < argc ? argv[first] : "");
    return SC_EXIT_USAGE;
  }
  if (first + 2 != argc) {
    sc_opts_usage_error(&cmd_labels_desc, first + 2 > argc ? "missing LABELS file" : "too many arguments");
    return SC_EXIT_USAGE;
  }
  if (!dbpath) {
    sc_opts_usage_error(&cmd_labels_desc, "--db FILE is required");
    return SC_EXIT_USAGE;
  }
  const char *file = argv[first + 1];
  struct sc_error err;
  sc_error_init(&err);
  sqlite3 *db = NULL;
  struct sc_labels_result res;
  int status = SC_EXIT_OK;
  int rc = sc_db_open(&db, dbpath, SC_DB_CREATE, &err);
  if (!rc) rc = sc_labels_import(db, file, &lo, &res, &err);
  if (rc) {
    status = sc_cli_error("labels", &err);
  } else {
    printf("imported %lld labels (%lld positive) from %s: %lld matched recorded exchanges, %lld unmatched\n",
           (long long)res.rows, (long long)res.positives, file, (long long)res.matched, (long long)res.unmatched);
  }
  sc_db_close(db);
  return status;
}

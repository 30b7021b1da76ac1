/*
 * cmd_analyze.c - `shadowctl analyze`: (re)analyses a run of results.db and
 * prints a readable summary. Stage: cli (over analyze). Reference:
 * schemas/analysis.sql (tables and metric names), schemas/shadow.example.yaml.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "cli/cli.h"
#include "store/db.h"
#include "util/config.h"

enum { OPT_DB = 1, OPT_RUN, OPT_CONFIG, OPT_SET, OPT_SLICE, OPT_STEP, OPT_NO_SUMMARY };

static const struct sc_opt opts[] = {
  {OPT_DB, "db", 'd', SC_ARG_REQUIRED, "FILE", "Results database written by 'shadowctl replay' (required)."},
  {OPT_RUN, "run", 'r', SC_ARG_REQUIRED, "ID|latest", "Run to analyse (default: latest)."},
  {OPT_CONFIG, "config", 'c', SC_ARG_REQUIRED, "FILE",
   "shadow.yaml: request key, decision rule, ignore paths, tolerances, noise, statistics, slices "
   "(default: built-in defaults, see schemas/shadow.example.yaml)."},
  {OPT_SET, "set", 0, SC_ARG_REQUIRED, "KEY=VALUE", SC_CLI_SET_HELP},
  {OPT_SLICE, "slice", 's', SC_ARG_REQUIRED, "PATH",
   "Break flips, positive rate, FPR and latency down by a request field ($.country) or header "
   "(header:X-Region); repeatable. Significance is corrected for multiple testing (Holm, or BH)."},
  {OPT_STEP, "step", 0, SC_ARG_REQUIRED, "N", "Analyse only progressive step N (0-based) instead of the whole run."},
  {OPT_NO_SUMMARY, "no-summary", 0, SC_ARG_NONE, NULL, "Analyse and store, print nothing."},
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_analyze_desc = {
  .name = "analyze",
  .synopsis = "--db FILE [--run ID|latest] [--config shadow.yaml] [--slice PATH]...",
  .summary = "diff answers and compute metrics and statistics for a run",
  .description =
      "Reads a run's exchanges and answers from the results database, extracts every answer's decision "
      "and score, diffs the JSON bodies field by field (ignore paths, numeric tolerances, gzip/deflate "
      "decoded first), classifies differing fields as noise or regression against the secondary target, "
      "and computes per-target latency, error and positive rates, paired (shadow) or unpaired (canary) "
      "comparisons with intervals and p-values, FPR/TPR when labels were imported, a threshold sweep and "
      "slices. Results replace the run's previous analysis in the tables documented in "
      "schemas/analysis.sql. Replay runs this automatically; run it again after importing labels or "
      "changing shadow.yaml.",
  .opts = opts,
  .epilogue =
      "Exit status:\n"
      "  0  analysed\n"
      "  1  the analysis failed (database error)\n"
      "  2  usage error, missing database or run, invalid shadow.yaml (FILE:LINE:COLUMN: message)\n"
      "\n"
      "Examples:\n"
      "  shadowctl analyze --db results.db\n"
      "  shadowctl analyze --db results.db --run 3 --config shadow.yaml --slice '$.country'\n"
      "  sqlite3 results.db \"SELECT name, target, value, ci_lo, ci_hi FROM metrics WHERE run_id = 3\"\n",
};

static void fmt_val(char *out, size_t n, double v, const char *name) {
  if (isnan(v)) {
    snprintf(out, n, "-");
  } else if (strstr(name, "latency") && !strstr(name, "ratio") && !strstr(name, "effect")) {
    snprintf(out, n, "%.1f ms", v / 1000.0);
  } else if (strstr(name, "rate") || strstr(name, "fpr") || strstr(name, "tpr") || strstr(name, "precision") ||
             strstr(name, "recall") || strstr(name, "coverage") || strstr(name, "loss")) {
    snprintf(out, n, "%.2f%%", v * 100);
  } else if (fabs(v) >= 1e6 || (v != 0 && fabs(v) < 1e-3)) {
    snprintf(out, n, "%.3g", v);
  } else if (v == floor(v) && fabs(v) < 1e15) {
    snprintf(out, n, "%.0f", v);
  } else {
    snprintf(out, n, "%.4f", v);
  }
}

static void print_metric_row(sqlite3 *db, int64_t run, int step, const char *name, const char *target) {
  struct sc_metric m;
  struct sc_error err;
  if (sc_metrics_get(db, run, step, name, target, &m, &err) || !m.found) return;
  char v[48], lo[48], hi[48];
  fmt_val(v, sizeof v, m.value, name);
  printf("  %-24s %-10s %14s", name, target, v);
  if (!isnan(m.ci_lo) && !isnan(m.ci_hi)) {
    fmt_val(lo, sizeof lo, m.ci_lo, name);
    fmt_val(hi, sizeof hi, m.ci_hi, name);
    printf("  [%s, %s]", lo, hi);
  }
  if (!isnan(m.p_value)) printf("  p=%.3g", m.p_value);
  printf("  n=%lld\n", (long long)m.n);
}

static void summary(sqlite3 *db, int64_t run, int step) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT mode, traffic_file, status FROM runs WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, run);
    if (sqlite3_step(st) == SQLITE_ROW)
      printf("run %lld (%s, %s, %s)%s\n", (long long)run, sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
             sqlite3_column_text(st, 2), step >= 0 ? " - one step" : "");
    sqlite3_finalize(st);
  }
  if (step >= 0) printf("step %d\n", step);
  print_metric_row(db, run, step, "exchanges", "all");
  print_metric_row(db, run, step, "label_coverage", "all");
  print_metric_row(db, run, step, "capture_loss", "all");
  static const char *const per[] = {"exchanges", "error_rate", "latency_p50", "latency_p99", "latency_p999",
                                    "positive_rate", "score_mean", "fpr", "tpr", "precision", "shed_rate"};
  static const char *const tg[] = {"current", "candidate", "secondary"};
  printf("\nper target:\n");
  for (size_t t = 0; t < 3; t++)
    for (size_t i = 0; i < sizeof per / sizeof per[0]; i++) print_metric_row(db, run, step, per[i], tg[t]);
  static const char *const cmp[] = {"decision_flip_rate", "positive_rate_delta", "error_rate_delta",
                                    "fpr_delta", "fpr_rel_change", "tpr_delta", "score_delta_mean",
                                    "latency_p50_ratio", "latency_p99_ratio", "latency_effect",
                                    "status_mismatch_rate", "body_diff_rate", "regression_paths",
                                    "noisy_paths", "threshold_same_volume"};
  printf("\ncandidate against current:\n");
  for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++) print_metric_row(db, run, step, cmp[i], "candidate");
  if (sqlite3_prepare_v2(db,
                         "SELECT path, diff_rate, noise_rate, regression, noisy, diff_count FROM path_stats"
                         " WHERE run_id = ?1 AND step IS ?2 ORDER BY regression DESC, diff_rate DESC LIMIT 10",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, run);
    if (step >= 0) sqlite3_bind_int(st, 2, step);
    else sqlite3_bind_null(st, 2);
    int first = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
      if (first) printf("\nfields that differ most (diff rate vs noise rate):\n");
      first = 0;
      double nr = sqlite3_column_type(st, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 2);
      char nb[32];
      if (isnan(nr)) snprintf(nb, sizeof nb, "n/a");
      else snprintf(nb, sizeof nb, "%.2f%%", nr * 100);
      printf("  %-40s %7.2f%%  noise %7s  %s\n", sqlite3_column_text(st, 0), sqlite3_column_double(st, 1) * 100, nb,
             sqlite3_column_int(st, 3) ? "REGRESSION" : sqlite3_column_int(st, 4) ? "noise" : "");
    }
    sqlite3_finalize(st);
  }
  if (sqlite3_prepare_v2(db,
                         "SELECT slice, value, n, positive_rate_delta, flip_rate, p_adjusted, significant FROM slices"
                         " WHERE run_id = ?1 AND step IS ?2 AND target = 'candidate' ORDER BY p_adjusted LIMIT 20",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, run);
    if (step >= 0) sqlite3_bind_int(st, 2, step);
    else sqlite3_bind_null(st, 2);
    int first = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
      if (first) printf("\nslices (candidate; positive-rate shift, flip rate, adjusted p):\n");
      first = 0;
      printf("  %s = %-16s n=%-7lld %+7.2f%%  flips %6.2f%%  p_adj=%.3g%s\n", sqlite3_column_text(st, 0),
             sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "(none)",
             (long long)sqlite3_column_int64(st, 2), sqlite3_column_double(st, 3) * 100,
             sqlite3_column_double(st, 4) * 100, sqlite3_column_double(st, 5),
             sqlite3_column_int(st, 6) ? "  SIGNIFICANT" : "");
    }
    sqlite3_finalize(st);
  }
}

int cmd_analyze(int argc, char **argv) {
  const char *dbpath = NULL, *run = "latest", *cfgpath = NULL;
  const char *slices[16];
  size_t nslices = 0;
  struct sc_cli_sets sets = {{0}, 0};
  int step = -1, quiet = 0;
  struct sc_optparser op;
  sc_opts_begin(&op, &cmd_analyze_desc, argc, argv);
  int id;
  const char *arg;
  while ((id = sc_opts_next(&op, &arg)) != SC_OPT_END) {
    switch (id) {
    case SC_OPT_HELP: sc_opts_print_help(stdout, &cmd_analyze_desc); sc_opts_end(&op); return SC_EXIT_OK;
    case SC_OPT_ERROR: sc_opts_end(&op); return SC_EXIT_USAGE;
    case OPT_DB: dbpath = arg; break;
    case OPT_RUN: run = arg; break;
    case OPT_CONFIG: cfgpath = arg; break;
    case OPT_SET:
      if (sc_cli_sets_add(&sets, &cmd_analyze_desc, arg)) {
        sc_opts_end(&op);
        return SC_EXIT_USAGE;
      }
      break;
    case OPT_SLICE:
      if (nslices == 16 || (strncmp(arg, "header:", 7) && arg[0] != '$')) {
        sc_opts_usage_error(&cmd_analyze_desc, nslices == 16 ? "at most 16 --slice options" :
                            "--slice '%s': expected a JSON path ($.country) or header:Name", arg);
        sc_opts_end(&op);
        return SC_EXIT_USAGE;
      }
      slices[nslices++] = arg;
      break;
    case OPT_STEP: {
      unsigned long long v;
      if (sc_parse_u64(&cmd_analyze_desc, "--step", arg, &v) || v > 100000) {
        sc_opts_end(&op);
        return SC_EXIT_USAGE;
      }
      step = (int)v;
      break;
    }
    case OPT_NO_SUMMARY: quiet = 1; break;
    }
  }
  int extra = op.optind < argc;
  sc_opts_end(&op);
  if (extra) {
    sc_opts_usage_error(&cmd_analyze_desc, "unexpected argument '%s'", argv[op.optind]);
    return SC_EXIT_USAGE;
  }
  if (!dbpath) {
    sc_opts_usage_error(&cmd_analyze_desc, "--db FILE is required");
    return SC_EXIT_USAGE;
  }
  struct sc_error err;
  sc_error_init(&err);
  struct sc_config cfg;
  sqlite3 *db = NULL;
  int status = SC_EXIT_OK;
  int rc = sc_config_init_defaults(&cfg);
  if (rc) {
    sc_error_set(&err, rc, "out of memory");
    goto fail;
  }
  rc = sc_cli_load_config(&cfg, cfgpath, &sets, &err);
  if (rc) goto fail;
  rc = sc_db_open(&db, dbpath, 0, &err);
  if (rc) goto fail;
  int64_t run_id = 0;
  rc = sc_analyze_resolve_run(db, run, &run_id, &err);
  if (rc) goto fail;
  rc = sc_analyze_run_slices(db, run_id, step, &cfg, slices, nslices, &err);
  if (rc) goto fail;
  if (!quiet) summary(db, run_id, step);
  goto out;
fail:
  status = sc_cli_error("analyze", &err);
out:
  sc_db_close(db);
  sc_config_release(&cfg);
  return status;
}

/*
 * analyze.h - per-run analysis of a results database: decisions, field diffs,
 * noise, metrics and statistics (issue 4). Stage: analyze. Reference:
 * schemas/analysis.sql (every table and metric name), schemas/results.sql.
 *
 * Used by `shadowctl analyze`, automatically at the end of `shadowctl replay`
 * (once per progressive step, then for the whole run), and by the report and
 * gate through the query helpers below.
 */
#ifndef SC_ANALYZE_ANALYZE_H
#define SC_ANALYZE_ANALYZE_H

#include <sqlite3.h>
#include <stdint.h>

#include "util/config.h"
#include "util/err.h"

/* Analyses run_id (step = -1: the whole run; step = k: exchanges with
 * exchanges.step = k only) under cfg and writes the analysis tables in one
 * transaction. Idempotent: replaces that run's (step's) previous analysis.
 * Per-exchange rows (decisions, pair_diffs, diffs) are written for the
 * exchanges in scope. db must have been opened with sc_db_open (read-write).
 * Errors: SC_ENOTFOUND (no such run), SC_EDB/SC_ENOSPC, SC_ENOMEM. */
int sc_analyze_run(sqlite3 *db, int64_t run_id, int step, const struct sc_config *cfg,
                   struct sc_error *err) SC_MUST_CHECK;

/* Same, with an optional extra slice rule (--slice) added to cfg's slices. */
int sc_analyze_run_slices(sqlite3 *db, int64_t run_id, int step, const struct sc_config *cfg,
                          const char *const *extra_slices, size_t n_extra,
                          struct sc_error *err) SC_MUST_CHECK;

/* Resolves "latest" (highest run id) or a decimal id into *run_id.
 * Errors: SC_ENOTFOUND ("no run in database" / "no run N"), SC_EINVAL. */
int sc_analyze_resolve_run(sqlite3 *db, const char *spec, int64_t *run_id,
                           struct sc_error *err) SC_MUST_CHECK;

/* One row of the metrics table. Doubles are NAN when NULL in the table. */
struct sc_metric {
  int found;          /* 0 when no such row (then everything else is NAN/0) */
  double value;
  double ci_lo, ci_hi;
  int64_t n;
  double p_value;
  double mde;
  char detail[256];   /* JSON text (truncated), "" when NULL */
};

/* Reads metric `name` of `target` for run_id (step -1 = whole run) into *out.
 * A missing row is not an error: returns 0 with out->found = 0.
 * Errors: SC_EDB. */
int sc_metrics_get(sqlite3 *db, int64_t run_id, int step, const char *name, const char *target,
                   struct sc_metric *out, struct sc_error *err) SC_MUST_CHECK;

/* 1 when labels exist for at least one exchange of the run (label_coverage > 0). */
int sc_analyze_has_labels(sqlite3 *db, int64_t run_id);

/* Labels import (`shadowctl labels import`). */
enum sc_labels_format { SC_LABELS_AUTO = 0, SC_LABELS_CSV, SC_LABELS_JSONL };

struct sc_labels_opts {
  enum sc_labels_format format;  /* AUTO: by extension (.csv/.jsonl/.ndjson), else sniff */
  const char *key_column;        /* default "request_key" then "txn_id"/"key" */
  const char *label_column;      /* default "label" */
  const char *positive;          /* positive label value; default "1"/"true"/"fraud"/"positive" */
};

struct sc_labels_result {
  int64_t rows;        /* label rows stored */
  int64_t positives;
  int64_t matched;     /* distinct keys found in exchanges */
  int64_t unmatched;   /* keys not found in any run */
};

/* Imports the labels of file `path` (CSV with a header row and RFC 4180
 * quoting, or JSON lines) into the labels table (upsert by key), stores a
 * label_imports row. Keys and labels are stored verbatim (prepared
 * statements). Errors: "FILE:LINE: message" with SC_EPARSE_CSV / SC_EPARSE_JSON,
 * SC_ENOENT, SC_EIO, SC_EDB. All-or-nothing (one transaction). */
int sc_labels_import(sqlite3 *db, const char *path, const struct sc_labels_opts *opts,
                     struct sc_labels_result *res, struct sc_error *err) SC_MUST_CHECK;

/* Same from memory (fuzzing, tests); name replaces FILE in messages. */
int sc_labels_import_buffer(sqlite3 *db, const char *name, const char *data, size_t n,
                            const struct sc_labels_opts *opts, struct sc_labels_result *res,
                            struct sc_error *err) SC_MUST_CHECK;

#endif

/*
 * config.h - shadow.yaml: what a comparison means (request key, decision rule,
 * ignore paths, numeric tolerances, noise, slices, statistics settings) and the
 * acceptance criteria the gate evaluates. Stage: util (read by diff, analyze,
 * gate, replay). Reference: schemas/shadow.schema.json,
 * schemas/shadow.example.yaml (documented example).
 *
 * Lifecycle: sc_config_init_defaults() fills every field with a default that
 * works with no file at all; sc_config_load() overlays a YAML file on top of
 * whatever cfg already holds; sc_config_release() frees everything the struct
 * owns (all char * and arrays below are owned by the struct) and leaves it
 * re-initialisable. A failed load leaves cfg valid (defaults + whatever had
 * been applied before the error) and must still be released.
 *
 * Every mistake in a file is reported as "FILE:LINE:COLUMN: message" in
 * err->msg (code SC_EPARSE_YAML for YAML syntax, SC_ECONFIG for a wrong key,
 * type or value, SC_ENOENT/SC_EIO when the file cannot be read).
 */
#ifndef SC_UTIL_CONFIG_H
#define SC_UTIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Comparison of a criterion: the criterion PASSES when `value OP threshold`. */
enum sc_cmp {
  SC_CMP_LT = 0, /* "<"  */
  SC_CMP_LE,     /* "<=" */
  SC_CMP_GT,     /* ">"  */
  SC_CMP_GE,     /* ">=" */
  SC_CMP_EQ,     /* "==" */
};

/* Numeric tolerance for one JSON path (wildcards as in ignore paths): two
 * numbers a (current) and b (other) are equal when
 * |a-b| <= abs  or  |a-b| <= rel * max(|a|,|b|). */
struct sc_tolerance {
  char *path;
  double abs;
  double rel;
};

/* One acceptance criterion (issue 5). The gate reads metric `metric` of
 * target `target` from the metrics table (schemas/analysis.sql documents
 * every metric name) and compares it with `threshold`. */
struct sc_criterion {
  char *name;          /* display name; defaults to the metric name */
  char *metric;        /* metric name, e.g. "latency_p99_ratio" */
  enum sc_cmp cmp;     /* pass when value cmp threshold */
  double threshold;
  char *target;        /* "candidate" (default), "current", "secondary" or "all" */
  int use_abs;         /* compare |value| (e.g. positive_rate_delta in either direction) */
  int relative;        /* threshold is relative to the current target's value of the
                          same metric: pass when value cmp current*(1+threshold)
                          (e.g. error_rate may grow by at most 10%: threshold 0.1) */
  int use_interval;    /* judge the interval bound on the failing side instead of the
                          point estimate (conservative) */
  int64_t min_samples; /* fewer samples (metric n) -> inconclusive; 0 = gate's default */
  int needs_labels;    /* inconclusive when the run has no labels (fpr, tpr, ...) */
};

struct sc_config {
  char *path;                 /* file loaded last, NULL when defaults only */

  /* request key: "default" (method+target+body hash, as replay computes it),
   * "$.json.path" into the request body, or "header:Name". */
  char *request_key;

  /* decision rule: a response is positive when its score (score_path) is >=
   * threshold, or, if score_path is empty/absent in the response, when the
   * value at label_path is one of positive_labels. Both read when present:
   * the score is stored and the decision follows the score when it exists. */
  char *score_path;           /* default "$.score" ("" disables) */
  double threshold;           /* default 0.5 */
  char *label_path;           /* default "$.decision" ("" disables) */
  char **positive_labels;     /* default {"positive","fraud","block","alert","true","1"} */
  size_t n_positive_labels;

  /* diff */
  char **ignore_paths;        /* "$.meta.*", "$..request_id" */
  size_t n_ignore_paths;
  struct sc_tolerance *tolerances;
  size_t n_tolerances;
  size_t max_json_depth;      /* default SC_MAX_JSON_DEPTH */
  size_t max_json_bytes;      /* default SC_MAX_JSON_BYTES */
  int store_diffs;            /* store per-exchange diff rows (default 1) */
  size_t max_diff_rows_per_path; /* example rows stored per path and pair (default 20); 0 = all */

  /* noise: a path is a regression only when its candidate diff rate exceeds
   * its current-vs-secondary noise rate by more than margin AND a one-sided
   * two-proportion test gives p < alpha. */
  double noise_margin;        /* default 0.01 */
  double noise_alpha;         /* default 0.01 */

  /* statistics */
  double alpha;               /* significance level, default 0.05 (95% intervals) */
  double power;               /* for minimum detectable effects, default 0.8 */
  unsigned bootstrap_iters;   /* default 1000 (reduced automatically on huge runs) */
  uint64_t seed;              /* bootstrap RNG seed, default 1 */
  char *correction;           /* "holm" (default) or "bh" for slices and paths */

  /* threshold sweep grid (scores); default 0.05, 0.10, ... 0.95 */
  double *sweep;
  size_t n_sweep;

  /* slices: request fields ("$.country", "header:X-Region") */
  char **slices;
  size_t n_slices;

  /* acceptance criteria (issue 5); defaults listed in schemas/shadow.example.yaml */
  struct sc_criterion *criteria;
  size_t n_criteria;
};

/* Fills cfg with defaults (including default criteria). Returns SC_ENOMEM or 0. */
int sc_config_init_defaults(struct sc_config *cfg) SC_MUST_CHECK;

/* Overlays the YAML file at path. Keys present replace defaults; lists
 * (ignore, tolerances, positive labels, slices, sweep, criteria) replace the
 * default list as a whole. Errors: "FILE:LINE:COLUMN: message". */
int sc_config_load(struct sc_config *cfg, const char *path, struct sc_error *err) SC_MUST_CHECK;

/* Same from a memory buffer; name is used in messages in place of FILE. */
int sc_config_load_buffer(struct sc_config *cfg, const char *name, const char *data, size_t n,
                          struct sc_error *err) SC_MUST_CHECK;

/* Overlays one command-line assignment "KEY=VALUE" (--set), where KEY is a
 * dotted path of shadow.yaml keys (decision.threshold, diff.ignore) and
 * VALUE is YAML (0.7, "$.score", [$.meta.*, $..ts]). It is loaded as the
 * document {a: {b: VALUE}}, so every check of a file applies; errors name
 * the assignment. */
int sc_config_apply_set(struct sc_config *cfg, const char *assignment, struct sc_error *err) SC_MUST_CHECK;

/* A 16-hex-digit id of everything in cfg that changes what an analysis
 * stores (all but the file path and the acceptance criteria). */
void sc_config_analysis_id(const struct sc_config *cfg, char out[17]);

void sc_config_release(struct sc_config *cfg);

/* "<", "<=", ... for a comparison; parses one back (-1 if unknown). */
const char *sc_cmp_str(enum sc_cmp c);
int sc_cmp_parse(const char *s);
/* 1 when `value c threshold` holds. */
int sc_cmp_eval(enum sc_cmp c, double value, double threshold);

/* Effective configuration as compact JSON (runs.config_json). Caller frees;
 * NULL on allocation failure. */
char *sc_config_to_json(const struct sc_config *cfg);

#endif

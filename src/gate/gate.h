/*
 * gate.h - acceptance criteria -> verdict (pass / fail / inconclusive) for a
 * run or one progressive step. Stage: gate. Reference: issue 5,
 * schemas/analysis.sql (metric names, intervals, mde), util/config.h
 * (struct sc_criterion).
 *
 * Judgement of one criterion (sc_gate_judge), in order:
 *   1. labels needed but none in the run          -> inconclusive
 *   2. metric stored NULL as not applicable to the run's mode (canary has no
 *      decision flips)                            -> not applicable (ignored)
 *      metric missing or not measurable (NULL)    -> inconclusive
 *   3. n < min_samples (criterion's, else SC_GATE_DEFAULT_MIN_SAMPLES for
 *      metrics that carry an interval or an mde)  -> inconclusive
 *   4. the whole interval is on the failing side  -> fail
 *   5. the point estimate fails:
 *        coverage metrics (exchanges, labelled, label_coverage): inconclusive
 *        (too few samples / labels is not a regression);
 *        use_interval, or mde > margin while the interval reaches the
 *        passing side: inconclusive;  else            -> fail
 *   6. the point passes but the sample cannot detect the threshold
 *      (mde > margin, where margin = |threshold - null value|, null value 1
 *      for *_ratio metrics and 0 otherwise)      -> inconclusive, never a pass
 *   7. no mde but an interval that reaches past the threshold -> inconclusive
 *   8. otherwise                                  -> pass
 * The verdict of a set: any fail -> fail; else any inconclusive ->
 * inconclusive; else pass (a set with no applicable criterion is
 * inconclusive).
 */
#ifndef SC_GATE_GATE_H
#define SC_GATE_GATE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/analyze.h"
#include "gate/verdict.h"
#include "util/config.h"
#include "util/err.h"

#define SC_GATE_DEFAULT_MIN_SAMPLES 30

enum sc_gate_status {
  SC_GATE_PASS = 0,
  SC_GATE_FAIL = 1,
  SC_GATE_INCONCLUSIVE = 3,  /* same numbers as the exit statuses */
  SC_GATE_NA = 4,            /* metric does not exist for the run's mode
                                (analysis stored it NULL with detail
                                {"not_applicable": ...}); left out of the verdict */
};

/* "pass", "fail", "inconclusive", "not applicable". */
const char *sc_gate_status_str(enum sc_gate_status s);

/* One judged criterion. Strings are owned copies (fixed arrays). */
struct sc_gate_item {
  char name[96];
  char metric[64];
  char target[16];
  char op[4];             /* "<=", ... */
  double threshold;       /* as configured */
  double effective;       /* threshold actually compared (relative criteria) */
  int has_value;
  double value;           /* NAN when not measured */
  double ci_lo, ci_hi;    /* NAN when no interval */
  double mde;             /* NAN when unknown */
  int64_t n;
  int use_abs;
  enum sc_gate_status status;
  char reason[256];
};

struct sc_gate_result {
  int64_t run_id;
  int step;               /* -1 whole run */
  enum sc_gate_status verdict;
  size_t n;
  struct sc_gate_item *items;  /* owned; sc_gate_result_release frees */
};

void sc_gate_result_init(struct sc_gate_result *r);
void sc_gate_result_release(struct sc_gate_result *r);

/* Judges criterion c against metric m (m->found 0 = missing). cur is the
 * current target's value of the same metric (for relative criteria; may be
 * NULL). has_labels: the run has labels. Fills *out. Pure. */
void sc_gate_judge(const struct sc_criterion *c, const struct sc_metric *m,
                   const struct sc_metric *cur, int has_labels, struct sc_gate_item *out);

/* Verdict of items[0..n): see the header comment. */
enum sc_gate_status sc_gate_combine(const struct sc_gate_item *items, size_t n);

/* Exit status for a verdict (0 / 1 / 3). */
int sc_gate_exit_status(enum sc_gate_status s);

/* Parses "metric OP value" (OP one of <= < >= > ==; spaces allowed), e.g.
 * "latency_p99_ratio<=1.2", "abs(positive_rate_delta)<=0.02". Fills c with
 * malloc'd name/metric/target (free with sc_gate_criterion_release).
 * Errors: SC_EUSAGE with a message naming the text. */
int sc_gate_criterion_parse(const char *text, struct sc_criterion *c, struct sc_error *err) SC_MUST_CHECK;
void sc_gate_criterion_release(struct sc_criterion *c);

/* Evaluates cfg's criteria for run_id (step -1 = whole run, k = step k).
 * Runs sc_analyze_run(db, run_id, step, cfg) first when that scope has no
 * metrics yet (db must then be writable). Fills *out (initialised here;
 * release it even on error). Returns 0 and out->verdict, or an error
 * (SC_ENOTFOUND no such run, SC_EDB, SC_ENOMEM).
 *
 * Progressive canary hook: replay's on_step_end may call
 *   sc_gate_eval(db, run_id, step, cfg, &r, &err)
 * and return sc_gate_exit_status(r.verdict) (0 pass, 1 breach, 3
 * inconclusive). */
int sc_gate_eval(sqlite3 *db, int64_t run_id, int step, const struct sc_config *cfg,
                 struct sc_gate_result *out, struct sc_error *err) SC_MUST_CHECK;

/* Same with an explicit criteria list (cfg still supplies analysis settings). */
int sc_gate_eval_criteria(sqlite3 *db, int64_t run_id, int step, const struct sc_config *cfg,
                          const struct sc_criterion *crit, size_t ncrit,
                          struct sc_gate_result *out, struct sc_error *err) SC_MUST_CHECK;

/* Comma-separated names of the failed items into buf ("" when none). */
void sc_gate_breached_names(const struct sc_gate_result *r, char *buf, size_t n);

#endif

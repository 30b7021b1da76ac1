/*
 * gate.c - evaluates a run's (or one progressive step's) acceptance criteria
 * from the metrics table; runs the analysis first when that scope has none.
 * Stage: gate. Reference: issue 5, schemas/analysis.sql, gate/gate.h.
 */
#include "gate/gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"

/* 1 when metrics rows exist for (run_id, step), 0 when none, <0 error. */
/* 1 when the run (step) has an analysis made under the same configuration
 * (decision rule, diff rules, ...) after the last labels import; 0 when it
 * has none, labels were imported since, or it was made under another
 * configuration (it is then redone). */
static int have_metrics(sqlite3 *db, int64_t run_id, int step, const struct sc_config *cfg, struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = sc_db_prepare(db, &st,
                         "SELECT count(*) > 0 AND NOT EXISTS (SELECT 1 FROM metrics WHERE run_id = ?1 AND "
                         "((?2 < 0 AND step IS NULL) OR step = ?2) AND name = 'label_coverage' AND target = 'all' "
                         "AND (coalesce(json_extract(detail, '$.label_import'), 0) < "
                         "(SELECT coalesce(max(id), 0) FROM label_imports) "
                         "OR coalesce(json_extract(detail, '$.config'), '') <> ?3)) "
                         "FROM metrics WHERE run_id = ?1 AND ((?2 < 0 AND step IS NULL) OR step = ?2)",
                         err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_int(st, 2, step);
  char cid[17];
  sc_config_analysis_id(cfg, cid);
  sqlite3_bind_text(st, 3, cid, -1, SQLITE_TRANSIENT);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) rc = sqlite3_column_int64(st, 0) > 0;
  else rc = sc_db_err(db, "reading metrics", err);
  sqlite3_finalize(st);
  return rc;
}

static int run_exists(sqlite3 *db, int64_t run_id, struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = sc_db_prepare(db, &st, "SELECT 1 FROM runs WHERE id = ?1", err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, run_id);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) rc = SC_OK;
  else if (s == SQLITE_DONE) rc = sc_error_set(err, SC_ENOTFOUND, "no run %lld in the database", (long long)run_id);
  else rc = sc_db_err(db, "reading runs", err);
  sqlite3_finalize(st);
  return rc;
}

int sc_gate_eval_criteria(sqlite3 *db, int64_t run_id, int step, const struct sc_config *cfg,
                          const struct sc_criterion *crit, size_t ncrit,
                          struct sc_gate_result *out, struct sc_error *err) {
  sc_gate_result_init(out);
  out->run_id = run_id;
  out->step = step < 0 ? -1 : step;
  int rc = run_exists(db, run_id, err);
  if (rc) return rc;
  rc = have_metrics(db, run_id, out->step, cfg, err);
  if (rc < 0) return rc;
  if (rc == 0) {
    rc = sc_analyze_run(db, run_id, out->step, cfg, err);
    if (rc) return rc;
  }
  if (ncrit) {
    out->items = calloc(ncrit, sizeof *out->items);
    if (!out->items) return sc_error_set(err, SC_ENOMEM, "out of memory");
  }
  int labels = sc_analyze_has_labels(db, run_id);
  for (size_t i = 0; i < ncrit; i++) {
    const struct sc_criterion *c = &crit[i];
    const char *target = c->target && c->target[0] ? c->target : "candidate";
    struct sc_metric m, cur;
    rc = sc_metrics_get(db, run_id, out->step, c->metric, target, &m, err);
    if (rc) return rc;
    /* Run-wide metrics (exchanges, capture_loss, label_coverage) live under
     * target 'all': fall back when the default target has none. */
    if (!m.found && !(c->target && c->target[0])) {
      rc = sc_metrics_get(db, run_id, out->step, c->metric, "all", &m, err);
      if (rc) return rc;
      if (m.found) target = "all";
    }
    memset(&cur, 0, sizeof cur);
    cur.value = NAN;
    if (c->relative) {
      rc = sc_metrics_get(db, run_id, out->step, c->metric, "current", &cur, err);
      if (rc) return rc;
    }
    sc_gate_judge(c, &m, &cur, labels, &out->items[i]);
    snprintf(out->items[i].target, sizeof out->items[i].target, "%s", target);
    out->n++;
  }
  out->verdict = sc_gate_combine(out->items, out->n);
  return SC_OK;
}

int sc_gate_eval(sqlite3 *db, int64_t run_id, int step, const struct sc_config *cfg,
                 struct sc_gate_result *out, struct sc_error *err) {
  return sc_gate_eval_criteria(db, run_id, step, cfg, cfg ? cfg->criteria : NULL,
                               cfg ? cfg->n_criteria : 0, out, err);
}

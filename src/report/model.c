/*
 * model.c - reads one run of results.db into the report model (a jansson
 * tree, the JSON report) plus the latency and score samples the charts need.
 * Stage: report. Reference: schemas/results.sql, schemas/analysis.sql,
 * issue 5 (report sections). Every text read from the database is made
 * valid UTF-8 here (jansson refuses anything else); escaping for a format is
 * the writers' job.
 */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/tmpl.h"
#include "store/db.h"
#include "util/clock.h"
#include "util/limits.h"

#define MAX_EXAMPLE_ROWS 20000
#define TOP_FIELDS 10
#define EXAMPLES_PER_FIELD 3

static const char *const TARGETS[3] = {"current", "candidate", "secondary"};

void sc_report_init(struct sc_report *r) { memset(r, 0, sizeof *r); }

void sc_report_release(struct sc_report *r) {
  json_decref(r->model);
  for (int i = 0; i < 3; i++) free(r->lat[i]);
  free(r->score_delta);
  sc_report_init(r);
}

/* Valid-UTF-8 JSON string of s[0..n), cut to max bytes (0 = no cut) with
 * "…" appended when cut. */
static json_t *jstrn(const char *s, size_t n, size_t max) {
  if (!s) return json_null();
  int cut = 0;
  if (max && n > max) { n = max; cut = 1; }
  struct sc_buf b;
  sc_buf_init(&b, n * 3 + 8);
  json_t *j = NULL;
  if (sc_tmpl_utf8_clean(&b, s, n) == SC_OK && (!cut || sc_buf_puts(&b, "\xE2\x80\xA6") == SC_OK))
    j = json_stringn(b.p, b.len);
  sc_buf_release(&b);
  return j;
}

static json_t *jstr(const char *s) { return s ? jstrn(s, strlen(s), 0) : json_null(); }

static json_t *col_json(sqlite3_stmt *st, int i, size_t max) {
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
  case SQLITE_FLOAT: {
    double d = sqlite3_column_double(st, i);
    return isfinite(d) ? json_real(d) : json_null();
  }
  case SQLITE_TEXT:
  case SQLITE_BLOB: {
    const char *p = (const char *)sqlite3_column_blob(st, i);
    return jstrn(p ? p : "", (size_t)sqlite3_column_bytes(st, i), max);
  }
  default: return json_null();
  }
}

/* Runs sql with ?1 = run_id; appends one object per row (keys = column
 * names) to *rows (created here). */
static int query_rows(sqlite3 *db, const char *sql, int64_t run_id, json_t **rows, struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  *rows = json_array();
  if (!*rows) return sc_error_set(err, SC_ENOMEM, "out of memory");
  int rc = sc_db_prepare(db, &st, sql, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, run_id);
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *o = json_object();
    if (!o) { rc = sc_error_set(err, SC_ENOMEM, "out of memory"); goto out; }
    for (int i = 0; i < sqlite3_column_count(st); i++)
      json_object_set_new(o, sqlite3_column_name(st, i), col_json(st, i, SC_REPORT_EXAMPLE_BYTES * 4));
    json_array_append_new(*rows, o);
  }
  if (s != SQLITE_DONE) rc = sc_db_err(db, "reading results", err);
out:
  sqlite3_finalize(st);
  return rc;
}

static void set_text(json_t *o, const char *key, const char *fmt, double v) {
  char b[64];
  if (isnan(v)) snprintf(b, sizeof b, "–");
  else snprintf(b, sizeof b, fmt, v);
  json_object_set_new(o, key, json_string(b));
}

static void set_num(json_t *o, const char *key, double v) {
  json_object_set_new(o, key, isfinite(v) ? json_real(v) : json_null());
}

static double jnum(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank quantile of sorted v[0..n). */
static double quantile(const double *v, size_t n, double q) {
  if (!n) return NAN;
  double r = ceil(q * (double)n);
  size_t i = r < 1 ? 0 : (size_t)r - 1;
  return v[i < n ? i : n - 1];
}

static int load_latencies(struct sc_report *r, sqlite3 *db, int64_t run_id, struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  size_t cap[3] = {0, 0, 0};
  int rc = sc_db_prepare(db, &st,
                         "SELECT target, latency_us FROM responses WHERE run_id = ?1 AND "
                         "status IS NOT NULL AND latency_us IS NOT NULL",
                         err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, run_id);
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    int k = -1;
    for (int i = 0; i < 3 && t; i++)
      if (!strcmp(t, TARGETS[i])) k = i;
    if (k < 0) continue;
    if (r->nlat[k] == cap[k]) {
      size_t nc = cap[k] ? cap[k] * 2 : 1024;
      double *nv = realloc(r->lat[k], nc * sizeof *nv);
      if (!nv) { rc = sc_error_set(err, SC_ENOMEM, "out of memory"); goto out; }
      r->lat[k] = nv;
      cap[k] = nc;
    }
    double v = sqlite3_column_double(st, 1) / 1000.0;
    if (!isfinite(v)) continue;
    r->lat[k][r->nlat[k]++] = v;
  }
  if (s != SQLITE_DONE) rc = sc_db_err(db, "reading latencies", err);
out:
  sqlite3_finalize(st);
  return rc;
}

static int load_score_deltas(struct sc_report *r, sqlite3 *db, int64_t run_id, struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  int rc = sc_db_prepare(db, &st,
                         "SELECT score_delta FROM pair_diffs WHERE run_id = ?1 AND pair = 'candidate' "
                         "AND score_delta IS NOT NULL",
                         err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, run_id);
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    if (r->nscore_delta == cap) {
      size_t nc = cap ? cap * 2 : 1024;
      double *nv = realloc(r->score_delta, nc * sizeof *nv);
      if (!nv) { rc = sc_error_set(err, SC_ENOMEM, "out of memory"); goto out; }
      r->score_delta = nv;
      cap = nc;
    }
    double v = sqlite3_column_double(st, 0);
    if (!isfinite(v)) continue;
    r->score_delta[r->nscore_delta++] = v;
  }
  if (s != SQLITE_DONE) rc = sc_db_err(db, "reading score deltas", err);
out:
  sqlite3_finalize(st);
  return rc;
}

/* Latency table rows per target (ms). */
static json_t *latency_rows(struct sc_report *r, json_t *targets) {
  json_t *rows = json_array();
  for (int k = 0; k < 3; k++) {
    if (!r->nlat[k]) continue;
    qsort(r->lat[k], r->nlat[k], sizeof(double), cmp_double);
    const double *v = r->lat[k];
    size_t n = r->nlat[k];
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += v[i];
    json_t *o = json_object();
    json_object_set_new(o, "target", json_string(TARGETS[k]));
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    static const struct { const char *key; double q; } qs[] = {
      {"p50", 0.5}, {"p90", 0.9}, {"p95", 0.95}, {"p99", 0.99}, {"p999", 0.999}, {"max", 1.0}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
      double x = quantile(v, n, qs[i].q);
      char key[32];
      set_num(o, qs[i].key, x);
      snprintf(key, sizeof key, "%s_text", qs[i].key);
      set_text(o, key, "%.2f", x);
    }
    set_num(o, "mean", sum / (double)n);
    set_text(o, "mean_text", "%.2f", sum / (double)n);
    size_t ti;
    json_t *t;
    json_array_foreach(targets, ti, t) {
      const char *tn = json_string_value(json_object_get(t, "target"));
      if (tn && !strcmp(tn, TARGETS[k])) json_object_set(o, "url", json_object_get(t, "url"));
    }
    json_array_append_new(rows, o);
  }
  return rows;
}

/* Metric rows of the whole run (step NULL) by name, per target. */
static int load_metrics(sqlite3 *db, int64_t run_id, json_t **out, struct sc_error *err) {
  int rc = query_rows(db,
                      "SELECT name, target, value, ci_lo, ci_hi, n, p_value, mde, detail FROM metrics "
                      "WHERE run_id = ?1 AND step IS NULL ORDER BY name, target",
                      run_id, out, err);
  if (rc) return rc;
  size_t i;
  json_t *m;
  json_array_foreach(*out, i, m) {
    const char *name = json_string_value(json_object_get(m, "name"));
    int rate = name && (strstr(name, "rate") || strstr(name, "fpr") || strstr(name, "tpr") ||
                        !strcmp(name, "precision") || !strcmp(name, "recall") ||
                        !strcmp(name, "label_coverage") || !strcmp(name, "capture_loss"));
    double v = jnum(m, "value"), lo = jnum(m, "ci_lo"), hi = jnum(m, "ci_hi");
    char b[96];
    if (rate) snprintf(b, sizeof b, "%.2f%%", v * 100);
    else snprintf(b, sizeof b, "%.4g", v);
    json_object_set_new(m, "value_text", json_string(isnan(v) ? "–" : b));
    if (!isnan(lo) && !isnan(hi)) {
      if (rate) snprintf(b, sizeof b, "[%.2f%%, %.2f%%]", lo * 100, hi * 100);
      else snprintf(b, sizeof b, "[%.4g, %.4g]", lo, hi);
      json_object_set_new(m, "interval_text", json_string(b));
    }
  }
  return SC_OK;
}

static json_t *metrics_named(json_t *metrics, const char *name) {
  json_t *a = json_array();
  size_t i;
  json_t *m;
  json_array_foreach(metrics, i, m) {
    const char *n = json_string_value(json_object_get(m, "name"));
    if (n && !strcmp(n, name)) json_array_append(a, m);
  }
  return a;
}

static json_t *metric_one(json_t *metrics, const char *name, const char *target) {
  size_t i;
  json_t *m;
  json_array_foreach(metrics, i, m) {
    const char *n = json_string_value(json_object_get(m, "name"));
    const char *t = json_string_value(json_object_get(m, "target"));
    if (n && t && !strcmp(n, name) && !strcmp(t, target)) return m;
  }
  return NULL;
}

/* "$.items[3].score" -> "$.items[*].score" into out. */
static void normalise_path(const char *p, char *out, size_t n) {
  size_t o = 0;
  while (*p && o + 4 < n) {
    if (*p == '[' && p[1] >= '0' && p[1] <= '9') {
      const char *q = p + 1;
      while (*q >= '0' && *q <= '9') q++;
      if (*q == ']') {
        memcpy(out + o, "[*]", 3);
        o += 3;
        p = q + 1;
        continue;
      }
    }
    out[o++] = *p++;
  }
  out[o] = '\0';
}

/* A few example exchanges for each top differing field. */
static int load_examples(sqlite3 *db, int64_t run_id, json_t *fields, struct sc_error *err) {
  sqlite3_stmt *st = NULL, *ex = NULL;
  int rc = sc_db_prepare(db, &st,
                         "SELECT seq, path FROM diffs WHERE run_id = ?1 AND pair = 'candidate' LIMIT ?2", err);
  if (rc) return rc;
  rc = sc_db_prepare(db, &ex,
                     "SELECT e.method, e.target, e.req_body, "
                     "(SELECT body FROM responses WHERE run_id = e.run_id AND seq = e.seq AND target = 'current'), "
                     "(SELECT body FROM responses WHERE run_id = e.run_id AND seq = e.seq AND target = 'candidate') "
                     "FROM exchanges e WHERE e.run_id = ?1 AND e.seq = ?2",
                     err);
  if (rc) goto out;
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_int(st, 2, MAX_EXAMPLE_ROWS);
  size_t nf = json_array_size(fields);
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    const char *path = (const char *)sqlite3_column_text(st, 1);
    if (!path) continue;
    char norm[SC_MAX_PATH_LEN + 8];
    normalise_path(path, norm, sizeof norm);
    for (size_t i = 0; i < nf; i++) {
      json_t *f = json_array_get(fields, i);
      const char *fp = json_string_value(json_object_get(f, "path"));
      if (!fp || (strcmp(fp, norm) && strcmp(fp, path))) continue;
      json_t *exs = json_object_get(f, "examples");
      if (json_array_size(exs) >= EXAMPLES_PER_FIELD) break;
      int64_t seq = sqlite3_column_int64(st, 0);
      size_t k;
      json_t *e;
      int dup = 0;
      json_array_foreach(exs, k, e) dup |= json_integer_value(json_object_get(e, "seq")) == seq;
      if (dup) break;
      sqlite3_reset(ex);
      sqlite3_bind_int64(ex, 1, run_id);
      sqlite3_bind_int64(ex, 2, seq);
      if (sqlite3_step(ex) == SQLITE_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "seq", json_integer(seq));
        json_object_set_new(o, "method", col_json(ex, 0, 16));
        json_object_set_new(o, "target", col_json(ex, 1, 200));
        json_object_set_new(o, "request", col_json(ex, 2, SC_REPORT_EXAMPLE_BYTES));
        json_object_set_new(o, "current", col_json(ex, 3, SC_REPORT_EXAMPLE_BYTES));
        json_object_set_new(o, "candidate", col_json(ex, 4, SC_REPORT_EXAMPLE_BYTES));
        json_array_append_new(exs, o);
      }
      break;
    }
  }
  if (s != SQLITE_DONE) rc = sc_db_err(db, "reading diffs", err);
out:
  sqlite3_finalize(st);
  sqlite3_finalize(ex);
  return rc;
}

static const char *cmp_str(const char *op) { return op; }

json_t *sc_report_verdict_json(const struct sc_gate_result *g) {
  json_t *v = json_object();
  if (!v) return NULL;
  if (!g) {
    json_object_set_new(v, "verdict", json_string("not evaluated"));
    json_object_set_new(v, "criteria", json_array());
    return v;
  }
  json_object_set_new(v, "verdict", json_string(sc_gate_status_str(g->verdict)));
  json_object_set_new(v, "exit_status", json_integer(sc_gate_exit_status(g->verdict)));
  json_object_set_new(v, "run_id", json_integer(g->run_id));
  json_object_set_new(v, "step", g->step < 0 ? json_null() : json_integer(g->step));
  json_t *br = json_array(), *cr = json_array();
  for (size_t i = 0; i < g->n; i++) {
    const struct sc_gate_item *it = &g->items[i];
    if (it->status == SC_GATE_FAIL) json_array_append_new(br, jstr(it->name));
    json_t *c = json_object();
    json_object_set_new(c, "name", jstr(it->name));
    json_object_set_new(c, "metric", jstr(it->metric));
    json_object_set_new(c, "target", jstr(it->target));
    json_object_set_new(c, "op", json_string(cmp_str(it->op)));
    set_num(c, "threshold", it->threshold);
    set_num(c, "effective_threshold", it->effective);
    set_num(c, "value", it->value);
    set_num(c, "ci_lo", it->ci_lo);
    set_num(c, "ci_hi", it->ci_hi);
    set_num(c, "mde", it->mde);
    json_object_set_new(c, "n", json_integer(it->n));
    json_object_set_new(c, "abs", json_boolean(it->use_abs));
    json_object_set_new(c, "result", json_string(sc_gate_status_str(it->status)));
    json_object_set_new(c, "reason", jstr(it->reason));
    /* display helpers */
    char b[128];
    snprintf(b, sizeof b, "%s %s %g", it->use_abs ? "|x|" : "", it->op, it->effective);
    json_object_set_new(c, "threshold_text", json_string(b + (it->use_abs ? 0 : 1)));
    if (it->has_value) {
      if (!isnan(it->ci_lo) && !isnan(it->ci_hi))
        snprintf(b, sizeof b, "%.4g [%.4g, %.4g]", it->value, it->ci_lo, it->ci_hi);
      else
        snprintf(b, sizeof b, "%.4g", it->value);
    } else {
      snprintf(b, sizeof b, "not measured");
    }
    json_object_set_new(c, "value_text", json_string(b));
    /* "sample large enough": the minimum detectable effect fits within the
     * distance from no change (1 for ratios, else 0) to the threshold */
    if (!isnan(it->mde)) {
      size_t ml = strlen(it->metric);
      double null = ml >= 6 && !strcmp(it->metric + ml - 6, "_ratio") ? 1.0 : 0.0;
      int powered = it->mde <= fabs(it->effective - null);
      snprintf(b, sizeof b, "%.3g (%s)", it->mde, powered ? "large enough" : "too small");
      json_object_set_new(c, "mde_text", json_string(b));
      json_object_set_new(c, "sample_large_enough", json_boolean(powered));
    } else {
      json_object_set_new(c, "mde_text", json_string("–"));
    }
    json_array_append_new(cr, c);
  }
  {
    char names[1024], text[1536];
    sc_gate_breached_names(g, names, sizeof names);
    size_t k = 0; /* "a,b" -> "a, b" for reading */
    for (const char *p = names; *p && k + 3 < sizeof text; p++) {
      text[k++] = *p;
      if (*p == ',') text[k++] = ' ';
    }
    text[k] = '\0';
    json_object_set_new(v, "breached_text", jstr(text));
  }
  json_object_set_new(v, "breached", br);
  json_object_set_new(v, "criteria", cr);
  return v;
}

int sc_report_load(struct sc_report *r, sqlite3 *db, int64_t run_id, const struct sc_gate_result *gate,
                   struct sc_error *err) {
  sc_report_init(r);
  json_t *m = json_object(), *rows = NULL, *metrics = NULL;
  if (!m) return sc_error_set(err, SC_ENOMEM, "out of memory");
  r->model = m;
  int rc = query_rows(db, "SELECT * FROM runs WHERE id = ?1", run_id, &rows, err);
  if (rc) goto out;
  if (!json_array_size(rows)) {
    rc = sc_error_set(err, SC_ENOTFOUND, "no run %lld in the database", (long long)run_id);
    goto out;
  }
  json_t *run = json_incref(json_array_get(rows, 0));
  json_decref(rows);
  rows = NULL;
  json_object_set_new(m, "run", run);
  json_object_set_new(m, "tool", json_pack("{s:s,s:s}", "name", "shadowctl", "version", SHADOWCTL_VERSION));
  {
    char when[40];
    double f = jnum(run, "capture_first_ns"), l = jnum(run, "capture_last_ns");
    if (!isnan(f) && !isnan(l) && f > 0 && l >= f) {
      sc_fmt_time_iso((uint64_t)f, when, sizeof when);
      json_object_set_new(run, "capture_first", json_string(when));
      sc_fmt_time_iso((uint64_t)l, when, sizeof when);
      json_object_set_new(run, "capture_last", json_string(when));
      set_text(run, "capture_window_text", "%.1f s", (l - f) / 1e9);
    }
    /* steps: JSON array of fractions -> "1%, 5%, 25%" */
    const char *steps = json_string_value(json_object_get(run, "steps"));
    json_t *sa = steps ? json_loads(steps, 0, NULL) : NULL;
    if (json_is_array(sa)) {
      char txt[256] = "";
      size_t len = 0, i;
      json_t *e;
      json_array_foreach(sa, i, e) {
        int w = snprintf(txt + len, sizeof txt - len, "%s%.4g%%", i ? ", " : "", json_number_value(e) * 100);
        if (w < 0 || (size_t)w >= sizeof txt - len) break;
        len += (size_t)w;
      }
      json_object_set_new(run, "steps_text", json_string(txt));
    } else if (steps) {
      json_object_set(run, "steps_text", json_object_get(run, "steps"));
    }
    json_decref(sa);
    double fr = jnum(run, "fraction");
    set_text(run, "fraction_text", "%.4g%%", fr * 100);
    const char *mode = json_string_value(json_object_get(run, "mode"));
    double ab = jnum(run, "aborted_step");
    if (!isnan(ab)) json_object_set_new(run, "aborted_step_number", json_integer((json_int_t)ab + 1));
    json_object_set_new(run, "is_canary", json_boolean(mode && !strcmp(mode, "canary")));
  }

  json_t *targets = NULL;
  rc = query_rows(db, "SELECT target, url, sent, shed, errors, connections_opened FROM run_targets "
                      "WHERE run_id = ?1 ORDER BY target",
                  run_id, &targets, err);
  if (rc) goto out;
  json_object_set_new(m, "targets", targets);

  rc = load_latencies(r, db, run_id, err);
  if (rc) goto out;
  json_object_set_new(m, "latency", latency_rows(r, targets));

  rc = query_rows(db,
                  "SELECT target, COALESCE(error, 'http_' || status) AS kind, count(*) AS count "
                  "FROM responses WHERE run_id = ?1 AND (error IS NOT NULL OR status >= 500) "
                  "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
                  run_id, &rows, err);
  if (rc) goto out;
  json_object_set_new(m, "errors", rows);
  rows = NULL;

  rc = load_metrics(db, run_id, &metrics, err);
  if (rc) goto out;

  /* decisions: flip matrix (shadow pairs), positive rates, score deltas */
  {
    json_t *d = json_object();
    json_object_set_new(m, "decisions", d);
    rc = query_rows(db,
                    "SELECT CASE c.decision WHEN 1 THEN 'positive' ELSE 'negative' END AS current, "
                    "CASE k.decision WHEN 1 THEN 'positive' ELSE 'negative' END AS candidate, "
                    "count(*) AS count FROM decisions c JOIN decisions k ON k.run_id = c.run_id AND "
                    "k.seq = c.seq AND k.target = 'candidate' WHERE c.run_id = ?1 AND "
                    "c.target = 'current' AND c.decision IS NOT NULL AND k.decision IS NOT NULL "
                    "GROUP BY 1, 2",
                    run_id, &rows, err);
    if (rc) goto out;
    long long mx[2][2] = {{0, 0}, {0, 0}};
    size_t i;
    json_t *e;
    json_array_foreach(rows, i, e) {
      int a = !strcmp(json_string_value(json_object_get(e, "current")), "positive");
      int b = !strcmp(json_string_value(json_object_get(e, "candidate")), "positive");
      mx[a][b] += json_integer_value(json_object_get(e, "count"));
    }
    json_decref(rows);
    rows = NULL;
    long long pairs = mx[0][0] + mx[0][1] + mx[1][0] + mx[1][1];
    if (pairs)
      json_object_set_new(d, "flips", json_pack("{s:I,s:I,s:I,s:I,s:I}", "neg_neg", mx[0][0], "neg_pos",
                                                mx[0][1], "pos_neg", mx[1][0], "pos_pos", mx[1][1], "pairs",
                                                pairs));
    json_t *pr = metrics_named(metrics, "positive_rate");
    json_object_set_new(d, "positive_rates", pr);
    json_t *fl = metric_one(metrics, "decision_flip_rate", "candidate");
    if (fl && !isnan(jnum(fl, "value"))) json_object_set(d, "flip_rate", fl);
    json_t *pd = metric_one(metrics, "positive_rate_delta", "candidate");
    if (pd && !isnan(jnum(pd, "value"))) json_object_set(d, "positive_rate_delta", pd);
    rc = load_score_deltas(r, db, run_id, err);
    if (rc) goto out;
    json_object_set_new(d, "score_deltas", json_integer((json_int_t)r->nscore_delta));
    json_object_set_new(d, "available", json_boolean(pairs || json_array_size(pr) || r->nscore_delta));
  }

  /* labels: fpr, tpr, precision per target */
  {
    json_t *rowsl = json_array();
    for (int k = 0; k < 3; k++) {
      json_t *f = metric_one(metrics, "fpr", TARGETS[k]);
      json_t *t = metric_one(metrics, "tpr", TARGETS[k]);
      json_t *p = metric_one(metrics, "precision", TARGETS[k]);
      if (!f && !t && !p) continue;
      if (f && isnan(jnum(f, "value")) && t && isnan(jnum(t, "value"))) continue;
      json_t *o = json_pack("{s:s}", "target", TARGETS[k]);
      if (f) json_object_set(o, "fpr", f);
      if (t) json_object_set(o, "tpr", t);
      if (p) json_object_set(o, "precision", p);
      json_array_append_new(rowsl, o);
    }
    json_t *cov = metric_one(metrics, "label_coverage", "all");
    json_t *l = json_pack("{s:o,s:b}", "rows", rowsl, "available", json_array_size(rowsl) > 0);
    if (cov) json_object_set(l, "coverage", cov);
    json_object_set_new(m, "labels", l);
  }

  /* fields that differ most, diff rate beside noise rate */
  rc = query_rows(db,
                  "SELECT path, n, diff_count, diff_rate, noise_rate, p_value, regression, noisy "
                  "FROM path_stats WHERE run_id = ?1 AND step IS NULL "
                  "ORDER BY regression DESC, diff_rate DESC, path LIMIT 10",
                  run_id, &rows, err);
  if (rc) goto out;
  {
    size_t i;
    json_t *f;
    json_array_foreach(rows, i, f) {
      set_text(f, "diff_rate_text", "%.2f%%", jnum(f, "diff_rate") * 100);
      set_text(f, "noise_rate_text", "%.2f%%", jnum(f, "noise_rate") * 100);
      json_object_set_new(f, "examples", json_array());
    }
  }
  json_object_set_new(m, "fields", rows);
  rc = load_examples(db, run_id, rows, err);
  rows = NULL;
  if (rc) goto out;

  rc = query_rows(db,
                  "SELECT step, fraction, exchanges, verdict, breached, started_at, finished_at "
                  "FROM steps WHERE run_id = ?1 ORDER BY step",
                  run_id, &rows, err);
  if (rc) goto out;
  {
    size_t i;
    json_t *s;
    json_array_foreach(rows, i, s) {
      set_text(s, "fraction_text", "%.4g%%", jnum(s, "fraction") * 100);
      json_object_set_new(s, "number", json_integer((json_int_t)i + 1));
    }
  }
  json_object_set_new(m, "steps", rows);
  rows = NULL;

  json_t *verdict = sc_report_verdict_json(gate);
  if (!verdict) { rc = sc_error_set(err, SC_ENOMEM, "out of memory"); goto out; }
  json_object_set_new(m, "verdict", verdict);
  json_object_set_new(m, "metrics", metrics);
  metrics = NULL;
out:
  json_decref(rows);
  json_decref(metrics);
  return rc;
}

/*
 * analyze.c - analysis of one run (or one progressive step) of results.db:
 * decisions and scores of every answer, field diffs with noise
 * classification, per-target metrics, paired (shadow) and unpaired (canary)
 * comparisons, labels (FPR/TPR), threshold sweep and slices. Stage: analyze.
 * Reference: schemas/analysis.sql (tables and metric names),
 * schemas/results.sql (input), analyze/stats.h (methods).
 *
 * One pass over the exchanges of the scope (ordered by seq, one row per
 * response), per-exchange rows written as it goes, then metrics from compact
 * in-memory columns (about 60 bytes per exchange). Everything happens inside
 * one SAVEPOINT, so a failed analysis leaves the previous one in place.
 */
#include "analyze/analyze.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze/stats.h"
#include "diff/extract.h"
#include "diff/json_diff.h"
#include "diff/noise.h"
#include "store/db.h"
#include "util/clock.h"
#include "util/log.h"

enum { T_CUR = 0, T_CAND = 1, T_SEC = 2, NT = 3 };
static const char *const tname[NT] = {"current", "candidate", "secondary"};
static const char *const pname[2] = {"candidate", "secondary"};

#define MAX_SLICES 16

/* responses.error values (schemas/results.sql), then HTTP 5xx. */
static const char *const err_kinds[10] = {"refused", "reset", "timeout", "connect", "malformed",
                                          "too_large", "closed", "other", "http_5xx", "no_status"};

/* Per exchange, compact. */
struct xr {
  float lat[NT];
  float score[NT];
  signed char present[NT];   /* a response row exists */
  signed char answered[NT];  /* an HTTP status came back */
  signed char err[NT];       /* transport error or status >= 500 */
  signed char dec[NT];       /* -1 unknown, 0, 1 */
  signed char has_score[NT];
  signed char label;         /* -1 no label, 0 negative, 1 positive */
};

struct ctx {
  sqlite3 *db;
  int64_t run_id;
  int step;
  const struct sc_config *cfg;
  struct sc_error *err;
  char mode[16];
  struct sc_diff_rules rules;
  struct sc_noise_map paths;
  int64_t pairs_compared[2]; /* JSON pairs compared, per pair */
  int64_t pairs_differ[2];   /* pairs with >= 1 field difference */
  int64_t pairs_total[2];    /* both answered */
  int64_t status_mismatch;
  int64_t err_kind[NT][10];  /* by kind, see err_kinds[] */
  /* columns */
  struct xr *x;
  size_t nx, capx;
  /* slices */
  const char *slice_rules[MAX_SLICES];
  size_t nslices;
  struct sc_noise_map slice_vals[MAX_SLICES];
  uint32_t *slice_idx;       /* nx * nslices, UINT32_MAX = absent */
  /* statements */
  sqlite3_stmt *ins_dec, *ins_pair, *ins_diff, *ins_metric;
  double z;                  /* normal quantile for intervals */
  unsigned iters;
};

/* ---- small helpers ----------------------------------------------------- */

static int dberr(struct ctx *c, const char *what) { return sc_db_err(c->db, what, c->err); }

static void bind_dbl(sqlite3_stmt *st, int i, double v) {
  if (isnan(v) || isinf(v)) sqlite3_bind_null(st, i);
  else sqlite3_bind_double(st, i, v);
}

static void bind_step(sqlite3_stmt *st, int i, int step) {
  if (step < 0) sqlite3_bind_null(st, i);
  else sqlite3_bind_int(st, i, step);
}

static int metric(struct ctx *c, const char *target, const char *name, double value, double lo,
                  double hi, int64_t n, double p, double mde, const char *detail) {
  sqlite3_stmt *st = c->ins_metric;
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, c->run_id);
  bind_step(st, 2, c->step);
  sqlite3_bind_text(st, 3, c->step < 0 ? "run" : "step", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, target, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
  bind_dbl(st, 6, value);
  bind_dbl(st, 7, lo);
  bind_dbl(st, 8, hi);
  sqlite3_bind_int64(st, 9, n);
  bind_dbl(st, 10, p);
  bind_dbl(st, 11, mde);
  if (detail) sqlite3_bind_text(st, 12, detail, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, 12);
  if (sqlite3_step(st) != SQLITE_DONE) return dberr(c, "cannot store metric");
  return SC_OK;
}

static int simple(struct ctx *c, const char *target, const char *name, double v, int64_t n) {
  return metric(c, target, name, v, NAN, NAN, n, NAN, NAN, NULL);
}

/* rate with a Wilson interval and a one-sample mde */
/* k of n as a rate with its Wilson interval; detail is the row's JSON or NULL. */
static int rate_detail(struct ctx *c, const char *target, const char *name, int64_t k, int64_t n,
                       const char *detail) {
  double lo, hi;
  sc_stats_wilson(k, n, c->z, &lo, &hi);
  double p = n ? (double)k / (double)n : NAN;
  return metric(c, target, name, p, n ? lo : NAN, n ? hi : NAN, n, NAN,
                sc_stats_mde_prop(n ? p : 0, n, 0, c->cfg->alpha, c->cfg->power), detail);
}

static int rate(struct ctx *c, const char *target, const char *name, int64_t k, int64_t n) {
  return rate_detail(c, target, name, k, n, NULL);
}

/* ---- scope and run facts ----------------------------------------------- */

static int load_run(struct ctx *c) {
  sqlite3_stmt *st = NULL;
  int rc = sc_db_prepare(c->db, &st, "SELECT mode FROM runs WHERE id = ?", c->err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, c->run_id);
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    snprintf(c->mode, sizeof c->mode, "%s", (const char *)sqlite3_column_text(st, 0));
  } else if (r == SQLITE_DONE) {
    rc = sc_error_set(c->err, SC_ENOTFOUND, "no run %lld in the database", (long long)c->run_id);
  } else {
    rc = dberr(c, "cannot read run");
  }
  sqlite3_finalize(st);
  return rc;
}

static int exec_bound(struct ctx *c, const char *sql) {
  sqlite3_stmt *st = NULL;
  int rc = sc_db_prepare(c->db, &st, sql, c->err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, c->run_id);
  if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_int(st, 2, c->step);
  if (sqlite3_step(st) != SQLITE_DONE) rc = dberr(c, "cannot replace previous analysis");
  sqlite3_finalize(st);
  return rc;
}

static int clear_previous(struct ctx *c) {
  static const char *const whole[] = {
    "DELETE FROM decisions WHERE run_id = ?1",
    "DELETE FROM pair_diffs WHERE run_id = ?1",
    "DELETE FROM diffs WHERE run_id = ?1",
    "DELETE FROM path_stats WHERE run_id = ?1 AND step IS NULL",
    "DELETE FROM metrics WHERE run_id = ?1 AND step IS NULL",
    "DELETE FROM threshold_sweep WHERE run_id = ?1 AND step IS NULL",
    "DELETE FROM slices WHERE run_id = ?1 AND step IS NULL",
  };
  static const char *const stepped[] = {
    "DELETE FROM decisions WHERE run_id = ?1 AND seq IN (SELECT seq FROM exchanges WHERE run_id = ?1 AND step = ?2)",
    "DELETE FROM pair_diffs WHERE run_id = ?1 AND seq IN (SELECT seq FROM exchanges WHERE run_id = ?1 AND step = ?2)",
    "DELETE FROM diffs WHERE run_id = ?1 AND seq IN (SELECT seq FROM exchanges WHERE run_id = ?1 AND step = ?2)",
    "DELETE FROM path_stats WHERE run_id = ?1 AND step = ?2",
    "DELETE FROM metrics WHERE run_id = ?1 AND step = ?2",
    "DELETE FROM threshold_sweep WHERE run_id = ?1 AND step = ?2",
    "DELETE FROM slices WHERE run_id = ?1 AND step = ?2",
  };
  for (size_t i = 0; i < 7; i++) {
    int rc = exec_bound(c, c->step < 0 ? whole[i] : stepped[i]);
    if (rc) return rc;
  }
  return SC_OK;
}

/* ---- the pass over exchanges ------------------------------------------- */

/* Finds "Content-Encoding" in a headers JSON array, cheaply: most answers
 * have none, so the JSON is parsed only when the name occurs. */
static void content_encoding(const char *h, size_t n, char *out, size_t on) {
  out[0] = '\0';
  if (!h || n < 16) return;
  static const char needle[] = "content-encoding";
  for (size_t i = 0; i + 16 <= n; i++) {
    if ((h[i] | 0x20) == 'c' && !strncasecmp(h + i, needle, 16)) {
      sc_extract_header(h, n, "Content-Encoding", out, on);
      return;
    }
  }
}

static int push_x(struct ctx *c) {
  if (c->nx == c->capx) {
    size_t nc = c->capx ? c->capx * 2 : 4096;
    struct xr *nv = realloc(c->x, nc * sizeof *nv);
    if (!nv) return sc_error_set(c->err, SC_ENOMEM, "out of memory");
    c->x = nv;
    if (c->nslices) {
      uint32_t *ns = realloc(c->slice_idx, nc * c->nslices * sizeof *ns);
      if (!ns) return sc_error_set(c->err, SC_ENOMEM, "out of memory");
      c->slice_idx = ns;
    }
    c->capx = nc;
  }
  struct xr *x = &c->x[c->nx];
  memset(x, 0, sizeof *x);
  for (int t = 0; t < NT; t++) x->dec[t] = -1;
  x->label = -1;
  for (size_t s = 0; s < c->nslices; s++) c->slice_idx[c->nx * c->nslices + s] = UINT32_MAX;
  c->nx++;
  return SC_OK;
}

struct resp {
  int present, answered, err, status;
  struct sc_parsed parsed;
  struct sc_decision d;
};

static int store_decision(struct ctx *c, int64_t seq, int t, const struct resp *r) {
  sqlite3_stmt *st = c->ins_dec;
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, c->run_id);
  sqlite3_bind_int64(st, 2, seq);
  sqlite3_bind_text(st, 3, tname[t], -1, SQLITE_STATIC);
  if (r->d.decision >= 0) sqlite3_bind_int(st, 4, r->d.decision);
  else sqlite3_bind_null(st, 4);
  if (r->d.has_label) sqlite3_bind_text(st, 5, r->d.label, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, 5);
  if (r->d.has_score) bind_dbl(st, 6, r->d.score);
  else sqlite3_bind_null(st, 6);
  if (sqlite3_step(st) != SQLITE_DONE) return dberr(c, "cannot store decision");
  return SC_OK;
}

static int compare_pair(struct ctx *c, int64_t seq, int pair, struct resp *a, struct resp *b,
                        struct sc_diff_result *res) {
  int rc = SC_OK;
  enum sc_diff_class cls;
  if (!a->answered || !b->answered) {
    cls = SC_DC_ERROR;
    sc_diff_result_reset(res);
  } else {
    rc = sc_diff_parsed(&c->rules, &a->parsed, &b->parsed, res);
    if (rc) return sc_error_set(c->err, rc, "out of memory while comparing exchange %lld", (long long)seq);
    cls = res->cls;
    c->pairs_total[pair]++;
    if (cls == SC_DC_EQUAL || cls == SC_DC_DIFFER || cls == SC_DC_EMPTY) c->pairs_compared[pair]++;
    if (cls == SC_DC_DIFFER) c->pairs_differ[pair]++;
    if (pair == 0 && a->status != b->status) c->status_mismatch++;
  }
  int flip = -1;
  if (a->d.decision >= 0 && b->d.decision >= 0) flip = a->d.decision != b->d.decision;
  sqlite3_stmt *st = c->ins_pair;
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, c->run_id);
  sqlite3_bind_int64(st, 2, seq);
  sqlite3_bind_text(st, 3, pname[pair], -1, SQLITE_STATIC);
  if (a->answered && b->answered) sqlite3_bind_int(st, 4, a->status == b->status);
  else sqlite3_bind_null(st, 4);
  sqlite3_bind_text(st, 5, sc_diff_class_str(cls), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, cls == SC_DC_DIFFER ? (int64_t)res->n : 0);
  if (flip >= 0) sqlite3_bind_int(st, 7, flip);
  else sqlite3_bind_null(st, 7);
  if (a->d.has_score && b->d.has_score) bind_dbl(st, 8, b->d.score - a->d.score);
  else sqlite3_bind_null(st, 8);
  if (sqlite3_step(st) != SQLITE_DONE) return dberr(c, "cannot store pair diff");
  if (cls != SC_DC_DIFFER) return SC_OK;
  for (size_t i = 0; i < res->n; i++) {
    const struct sc_diff_entry *e = &res->v[i];
    size_t idx;
    int first;
    rc = sc_noise_count(&c->paths, sc_diff_npath(res, e), pair, seq, &idx, &first);
    if (rc) return sc_error_set(c->err, rc, "too many distinct differing paths");
    struct sc_noise_entry *pe = &c->paths.v[idx];
    if (!c->cfg->store_diffs || !first) continue;
    if (c->cfg->max_diff_rows_per_path && pe->examples[pair] >= (int64_t)c->cfg->max_diff_rows_per_path)
      continue;
    pe->examples[pair]++;
    char va[256], vb[256];
    sc_diff_value_text(e->a, va, sizeof va);
    sc_diff_value_text(e->b, vb, sizeof vb);
    st = c->ins_diff;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, c->run_id);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_text(st, 3, pname[pair], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sc_diff_path(res, e), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, sc_diff_kind_str(e->kind), -1, SQLITE_STATIC);
    if (e->a) sqlite3_bind_text(st, 6, va, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 6);
    if (e->b) sqlite3_bind_text(st, 7, vb, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 7);
    if (sqlite3_step(st) != SQLITE_DONE) return dberr(c, "cannot store diff");
  }
  return SC_OK;
}

/* Columns of the pass query. */
enum { Q_SEQ, Q_TARGET, Q_STATUS, Q_ERROR, Q_LAT, Q_BODY, Q_CTYPE, Q_HEADERS, Q_TRUNC, Q_LABEL, Q_REQH, Q_REQB };

static int finish_exchange(struct ctx *c, int64_t seq, struct resp *r, struct sc_diff_result *res,
                           const char *reqh, size_t reqh_n, const void *reqb, size_t reqb_n) {
  int rc;
  struct xr *x = &c->x[c->nx - 1];
  for (int t = 0; t < NT; t++) {
    if (!r[t].present) continue;
    sc_extract_decision(c->cfg, r[t].answered ? r[t].parsed.json : NULL, &r[t].d);
    if (r[t].err) r[t].d.decision = -1;
    x->dec[t] = (signed char)r[t].d.decision;
    x->has_score[t] = (signed char)r[t].d.has_score;
    x->score[t] = (float)r[t].d.score;
    rc = store_decision(c, seq, t, &r[t]);
    if (rc) return rc;
  }
  if (r[T_CUR].present && r[T_CAND].present) {
    rc = compare_pair(c, seq, 0, &r[T_CUR], &r[T_CAND], res);
    if (rc) return rc;
  }
  if (r[T_CUR].present && r[T_SEC].present) {
    rc = compare_pair(c, seq, 1, &r[T_CUR], &r[T_SEC], res);
    if (rc) return rc;
  }
  if (c->nslices) {
    json_t *body = NULL;
    int parsed = 0;
    for (size_t s = 0; s < c->nslices; s++) {
      char v[256];
      int found;
      if (!strncmp(c->slice_rules[s], "header:", 7)) {
        found = sc_extract_header(reqh, reqh_n, c->slice_rules[s] + 7, v, sizeof v);
      } else {
        if (!parsed && reqb && reqb_n && reqb_n <= c->rules.max_bytes) {
          json_error_t je;
          body = json_loadb(reqb, reqb_n, JSON_DECODE_ANY, &je);
        }
        parsed = 1;
        found = sc_extract_request_field_parsed(c->slice_rules[s], NULL, 0, body, v, sizeof v);
      }
      if (!found) continue;
      size_t idx;
      rc = sc_noise_intern(&c->slice_vals[s], v, strlen(v), &idx);
      if (rc) {
        json_decref(body);
        return sc_error_set(c->err, rc, "slice '%s': too many distinct values", c->slice_rules[s]);
      }
      c->slice_idx[(c->nx - 1) * c->nslices + s] = (uint32_t)idx;
    }
    json_decref(body);
  }
  return SC_OK;
}

static int pass(struct ctx *c) {
  int rc = SC_OK;
  sqlite3_stmt *st = NULL;
  struct resp r[NT];
  struct sc_diff_result res;
  sc_diff_result_init(&res);
  for (int t = 0; t < NT; t++) {
    memset(&r[t], 0, sizeof r[t]);
    sc_parsed_init(&r[t].parsed);
  }
  /* The labels join costs a lookup per exchange: skipped when there are none. */
  int have_labels = 0;
  if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM labels LIMIT 1", -1, &st, NULL) == SQLITE_OK)
    have_labels = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  st = NULL;
  char sql[1024];
  snprintf(sql, sizeof sql,
           "SELECT e.seq, r.target, r.status, r.error, r.latency_us, r.body, r.content_type, r.headers, r.body_truncated,"
           " %s, %s, %s"
           " FROM exchanges e %s CROSS JOIN responses r ON r.run_id = e.run_id AND r.seq = e.seq"
           " WHERE e.run_id = ?1 %s ORDER BY e.seq",
           have_labels ? "l.positive" : "NULL", c->nslices ? "e.req_headers" : "NULL",
           c->nslices ? "e.req_body" : "NULL",
           have_labels ? "LEFT JOIN labels l ON l.request_key = e.request_key" : "",
           c->step >= 0 ? "AND e.step = ?2" : "");
  rc = sc_db_prepare(c->db, &st, sql, c->err);
  if (rc) goto out;
  sqlite3_bind_int64(st, 1, c->run_id);
  if (c->step >= 0) sqlite3_bind_int(st, 2, c->step);
  int64_t cur = INT64_MIN;
  char *reqh = NULL, *reqb = NULL;
  size_t reqh_n = 0, reqb_n = 0;
  for (;;) {
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE) {
      rc = dberr(c, "cannot read exchanges");
      break;
    }
    int64_t seq = s == SQLITE_ROW ? sqlite3_column_int64(st, Q_SEQ) : INT64_MIN;
    if (seq != cur || s == SQLITE_DONE) {
      if (cur != INT64_MIN) {
        rc = finish_exchange(c, cur, r, &res, reqh, reqh_n, reqb, reqb_n);
        if (rc) break;
      }
      if (s == SQLITE_DONE) break;
      cur = seq;
      for (int t = 0; t < NT; t++) {
        r[t].present = r[t].answered = r[t].err = 0;
        r[t].status = 0;
      }
      rc = push_x(c);
      if (rc) break;
      free(reqh);
      free(reqb);
      reqh = reqb = NULL;
      reqh_n = reqb_n = 0;
      if (c->nslices) {
        const void *p = sqlite3_column_blob(st, Q_REQH);
        reqh_n = (size_t)sqlite3_column_bytes(st, Q_REQH);
        reqh = p ? sc_memdup0(p, reqh_n) : NULL;
        p = sqlite3_column_blob(st, Q_REQB);
        reqb_n = (size_t)sqlite3_column_bytes(st, Q_REQB);
        reqb = p ? sc_memdup0(p, reqb_n) : NULL;
      }
      struct xr *x = &c->x[c->nx - 1];
      if (sqlite3_column_type(st, Q_LABEL) != SQLITE_NULL)
        x->label = (signed char)(sqlite3_column_int(st, Q_LABEL) ? 1 : 0);
    }
    const char *tg = (const char *)sqlite3_column_text(st, Q_TARGET);
    int t = !tg ? -1 : !strcmp(tg, "current") ? T_CUR : !strcmp(tg, "candidate") ? T_CAND
                                                     : !strcmp(tg, "secondary") ? T_SEC : -1;
    if (t < 0) continue;
    struct resp *rp = &r[t];
    struct xr *x = &c->x[c->nx - 1];
    rp->present = 1;
    x->present[t] = 1;
    rp->answered = sqlite3_column_type(st, Q_STATUS) != SQLITE_NULL;
    rp->status = sqlite3_column_int(st, Q_STATUS);
    rp->err = !rp->answered || rp->status >= 500 || sqlite3_column_type(st, Q_ERROR) != SQLITE_NULL;
    x->answered[t] = (signed char)rp->answered;
    x->err[t] = (signed char)rp->err;
    if (rp->err) {
      const char *ek = (const char *)sqlite3_column_text(st, Q_ERROR);
      int k = 9;
      if (ek) {
        k = 7;
        for (int j = 0; j < 8; j++)
          if (!strcmp(ek, err_kinds[j])) k = j;
      } else if (rp->answered) {
        k = 8;
      }
      c->err_kind[t][k]++;
    }
    x->lat[t] = sqlite3_column_type(st, Q_LAT) != SQLITE_NULL ? (float)sqlite3_column_double(st, Q_LAT) : NAN;
    if (!rp->answered) x->lat[t] = NAN;
    char enc[64];
    content_encoding((const char *)sqlite3_column_text(st, Q_HEADERS),
                     (size_t)sqlite3_column_bytes(st, Q_HEADERS), enc, sizeof enc);
    struct sc_body b = {sqlite3_column_blob(st, Q_BODY), (size_t)sqlite3_column_bytes(st, Q_BODY),
                        (const char *)sqlite3_column_text(st, Q_CTYPE), enc[0] ? enc : NULL};
    if (!b.p) b.n = 0;
    if (rp->answered && sqlite3_column_int(st, Q_TRUNC)) {
      /* only a prefix was stored (replay --body-cap): not comparable */
      sc_parsed_release(&rp->parsed);
      sc_parsed_init(&rp->parsed);
      rp->parsed.cls = SC_DC_TOO_LARGE;
    } else if (rp->answered) {
      rc = sc_diff_parse(&c->rules, &b, &rp->parsed);
      if (rc) {
        rc = sc_error_set(c->err, rc, "out of memory");
        break;
      }
    } else {
      sc_parsed_release(&rp->parsed);
      sc_parsed_init(&rp->parsed);
    }
  }
  free(reqh);
  free(reqb);
out:
  sqlite3_finalize(st);
  for (int t = 0; t < NT; t++) sc_parsed_release(&r[t].parsed);
  sc_diff_result_release(&res);
  return rc;
}

/* ---- metrics ----------------------------------------------------------- */

struct tstats {
  int64_t n, answered, errors, known, positives, scored;
  double score_sum;
  int64_t tp, fp, tn, fn, labelled;
  double *lat;   /* sorted latencies of answered responses */
  size_t nlat;
};

static int collect(struct ctx *c, int t, struct tstats *s) {
  memset(s, 0, sizeof *s);
  s->lat = malloc((c->nx ? c->nx : 1) * sizeof *s->lat);
  if (!s->lat) return sc_error_set(c->err, SC_ENOMEM, "out of memory");
  for (size_t i = 0; i < c->nx; i++) {
    const struct xr *x = &c->x[i];
    if (!x->present[t]) continue;
    s->n++;
    if (x->answered[t]) s->answered++;
    if (x->err[t]) s->errors++;
    if (x->answered[t] && !isnan(x->lat[t])) s->lat[s->nlat++] = x->lat[t];
    if (x->has_score[t]) {
      s->scored++;
      s->score_sum += x->score[t];
    }
    if (x->dec[t] >= 0) {
      s->known++;
      s->positives += x->dec[t];
      if (x->label >= 0) {
        s->labelled++;
        if (x->label && x->dec[t]) s->tp++;
        else if (x->label) s->fn++;
        else if (x->dec[t]) s->fp++;
        else s->tn++;
      }
    }
  }
  sc_stats_sort(s->lat, s->nlat);
  return SC_OK;
}

static int shed_rate(struct ctx *c, int t) {
  sqlite3_stmt *st = NULL;
  int rc = sc_db_prepare(c->db, &st, "SELECT sent, shed FROM run_targets WHERE run_id = ? AND target = ?", c->err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, c->run_id);
  sqlite3_bind_text(st, 2, tname[t], -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    int64_t sent = sqlite3_column_int64(st, 0), shed = sqlite3_column_int64(st, 1);
    int64_t tot = sent + shed;
    rc = metric(c, tname[t], "shed_rate", tot ? (double)shed / (double)tot : 0, NAN, NAN, tot, NAN, NAN, NULL);
  }
  sqlite3_finalize(st);
  return rc;
}

static int target_metrics(struct ctx *c, int t, const struct tstats *s) {
  const char *tn = tname[t];
  int rc = simple(c, tn, "exchanges", (double)s->n, s->n);
  if (!rc) rc = simple(c, tn, "errors", (double)s->errors, s->n);
  if (!rc) rc = rate(c, tn, "error_rate", s->errors, s->n);
  if (!rc) {
    char det[400];
    size_t l = (size_t)snprintf(det, sizeof det, "{");
    for (int k = 0; k < 10; k++)
      l += (size_t)snprintf(det + l, sizeof det - l, "%s\"%s\":%lld", k ? "," : "", err_kinds[k],
                            (long long)c->err_kind[t][k]);
    snprintf(det + l, sizeof det - l, "}");
    rc = metric(c, tn, "errors_by_kind", (double)s->errors, NAN, NAN, s->n, NAN, NAN, det);
  }
  static const struct { const char *name; double q; } qs[] = {
    {"latency_p50", 0.5}, {"latency_p90", 0.9}, {"latency_p95", 0.95},
    {"latency_p99", 0.99}, {"latency_p999", 0.999}, {"latency_max", 1.0}};
  for (size_t i = 0; !rc && i < sizeof qs / sizeof qs[0]; i++)
    rc = simple(c, tn, qs[i].name, s->nlat ? sc_stats_quantile_sorted(s->lat, s->nlat, qs[i].q) : NAN,
                (int64_t)s->nlat);
  if (!rc) {
    double sum = 0;
    for (size_t i = 0; i < s->nlat; i++) sum += s->lat[i];
    rc = simple(c, tn, "latency_mean", s->nlat ? sum / (double)s->nlat : NAN, (int64_t)s->nlat);
  }
  if (!rc) rc = rate(c, tn, "positive_rate", s->positives, s->known);
  if (!rc) rc = simple(c, tn, "score_mean", s->scored ? s->score_sum / (double)s->scored : NAN, s->scored);
  if (!rc) rc = simple(c, tn, "labelled", (double)s->labelled, s->labelled);
  if (!rc && s->labelled) {
    rc = rate(c, tn, "fpr", s->fp, s->fp + s->tn);
    if (!rc) rc = rate(c, tn, "tpr", s->tp, s->tp + s->fn);
    if (!rc) rc = rate(c, tn, "recall", s->tp, s->tp + s->fn);
    if (!rc) rc = rate(c, tn, "precision", s->tp, s->tp + s->fp);
  }
  if (!rc && c->step < 0) rc = shed_rate(c, t);
  return rc;
}

/* Paired difference of two binary outcomes (b: only candidate, c: only
 * current) over n pairs: (b-c)/n, Wald interval, McNemar p. */
static int paired_delta(struct ctx *c, const char *name, int64_t b, int64_t cc, int64_t n) {
  if (!n) return metric(c, "candidate", name, NAN, NAN, NAN, 0, NAN, INFINITY, NULL);
  double fn = (double)n, d = (double)(b - cc) / fn;
  double var = ((double)(b + cc) - (double)(b - cc) * (double)(b - cc) / fn) / (fn * fn);
  double se = sqrt(var > 0 ? var : 0);
  double chi2;
  double p = sc_stats_mcnemar(b, cc, &chi2);
  /* paired: var(d) ~ p_discordant / n */
  double pd = (double)(b + cc) / fn;
  if (pd < 3.0 / fn) pd = 3.0 / fn;
  if (pd > 1) pd = 1;
  double mde = (sc_stats_norm_quantile(1 - c->cfg->alpha / 2) + sc_stats_norm_quantile(c->cfg->power)) * sqrt(pd / fn);
  char det[160];
  snprintf(det, sizeof det, "{\"paired\":true,\"only_candidate\":%lld,\"only_current\":%lld,\"mcnemar_chi2\":%.6g}",
           (long long)b, (long long)cc, chi2);
  return metric(c, "candidate", name, d, d - c->z * se, d + c->z * se, n, p, mde, det);
}

/* Unpaired difference of proportions k1/n1 (candidate) - k2/n2 (current). */
static int unpaired_delta(struct ctx *c, const char *name, int64_t k1, int64_t n1, int64_t k2, int64_t n2) {
  if (!n1 || !n2) return metric(c, "candidate", name, NAN, NAN, NAN, n1 < n2 ? n1 : n2, NAN, INFINITY, NULL);
  double lo, hi, z;
  sc_stats_newcombe_diff(k1, n1, k2, n2, c->z, &lo, &hi);
  double p = sc_stats_two_prop_z(k1, n1, k2, n2, &z);
  double p2 = (double)k2 / (double)n2, p1 = (double)k1 / (double)n1;
  double mde = sc_stats_mde_prop(p2, n1, n2, c->cfg->alpha, c->cfg->power);
  char det[200];
  snprintf(det, sizeof det, "{\"paired\":false,\"candidate\":%.6g,\"current\":%.6g,\"z\":%.6g,\"relative\":%.6g}",
           p1, p2, z, p2 > 0 ? p1 / p2 - 1 : (p1 > 0 ? 1e308 : 0));
  return metric(c, "candidate", name, p1 - p2, lo, hi, n1 < n2 ? n1 : n2, p, mde, det);
}

static double half_to_mde(struct ctx *c, double lo, double hi) {
  if (isnan(lo) || isnan(hi)) return INFINITY;
  double za = sc_stats_norm_quantile(1 - c->cfg->alpha / 2), zb = sc_stats_norm_quantile(c->cfg->power);
  return (hi - lo) / 2 / za * (za + zb);
}

static unsigned boot_iters(struct ctx *c, size_t n) {
  /* Bootstrap cost is iters * n: keep it near 5e7 element draws on huge runs. */
  unsigned it = c->cfg->bootstrap_iters ? c->cfg->bootstrap_iters : 1000;
  double cap = 2e7 / (double)(n ? n : 1);
  if (cap < 50) cap = 50;
  if ((double)it > cap) it = (unsigned)cap;
  return it;
}

static int latency_compare(struct ctx *c, int paired, const struct tstats *cur, const struct tstats *cand) {
  int rc = SC_OK;
  double *a = NULL, *b = NULL, *d = NULL;
  size_t n = 0;
  char det[256];
  if (paired) {
    a = malloc((c->nx ? c->nx : 1) * sizeof *a);
    b = malloc((c->nx ? c->nx : 1) * sizeof *b);
    d = malloc((c->nx ? c->nx : 1) * sizeof *d);
    if (!a || !b || !d) {
      rc = sc_error_set(c->err, SC_ENOMEM, "out of memory");
      goto out;
    }
    for (size_t i = 0; i < c->nx; i++) {
      const struct xr *x = &c->x[i];
      if (x->answered[T_CUR] && x->answered[T_CAND] && !isnan(x->lat[T_CUR]) && !isnan(x->lat[T_CAND])) {
        a[n] = x->lat[T_CAND];
        b[n] = x->lat[T_CUR];
        d[n] = a[n] - b[n];
        n++;
      }
    }
  } else {
    a = (double *)cand->lat;
    b = (double *)cur->lat;
  }
  size_t na = paired ? n : cand->nlat, nb = paired ? n : cur->nlat;
  if (!na || !nb) {
    static const char *const names[] = {"latency_p50_ratio", "latency_p99_ratio", "latency_p50_delta_us",
                                        "latency_p99_delta_us", "latency_effect"};
    for (size_t i = 0; !rc && i < 5; i++) rc = metric(c, "candidate", names[i], NAN, NAN, NAN, 0, NAN, INFINITY, NULL);
    goto out;
  }
  double p_value, effect;
  if (paired) {
    struct sc_wsr w;
    rc = sc_stats_wilcoxon(d, n, &w);
    if (rc) goto nomem;
    p_value = w.p;
    size_t slower = 0;
    for (size_t i = 0; i < n; i++) slower += d[i] > 0;
    effect = (double)slower / (double)n;
    snprintf(det, sizeof det, "{\"paired\":true,\"test\":\"wilcoxon\",\"w\":%.6g,\"z\":%.6g,\"nonzero\":%zu}", w.w, w.z, w.n);
  } else {
    struct sc_mwu m;
    rc = sc_stats_mann_whitney(a, na, b, nb, &m);
    if (rc) goto nomem;
    p_value = m.p;
    effect = m.cles;
    snprintf(det, sizeof det, "{\"paired\":false,\"test\":\"mann_whitney\",\"u\":%.6g,\"z\":%.6g,\"rank_biserial\":%.6g}",
             m.u1, m.z, m.rbc);
  }
  int64_t nn = (int64_t)(na < nb ? na : nb);
  unsigned it = boot_iters(c, na + nb);
  static const double qv[2] = {0.5, 0.99};
  static const char *const rname[2] = {"latency_p50_ratio", "latency_p99_ratio"};
  static const char *const dname[2] = {"latency_p50_delta_us", "latency_p99_delta_us"};
  struct sc_boot_q bq[2];
  rc = sc_stats_bootstrap_quantiles(a, na, b, nb, qv, 2, paired, it, c->cfg->alpha, c->cfg->seed, bq);
  if (rc) goto nomem;
  char dd[300];
  snprintf(dd, sizeof dd, "{\"bootstrap\":%u,\"paired\":%s,\"test\":%s}", it, paired ? "true" : "false", det);
  for (size_t k = 0; k < 2 && !rc; k++) {
    rc = metric(c, "candidate", rname[k], bq[k].ratio, bq[k].ratio_lo, bq[k].ratio_hi, nn, p_value,
                half_to_mde(c, bq[k].ratio_lo, bq[k].ratio_hi), dd);
    if (!rc)
      rc = metric(c, "candidate", dname[k], bq[k].delta, bq[k].delta_lo, bq[k].delta_hi, nn, p_value,
                  half_to_mde(c, bq[k].delta_lo, bq[k].delta_hi), dd);
  }
  if (!rc) rc = metric(c, "candidate", "latency_effect", effect, NAN, NAN, nn, p_value, NAN, det);
  goto out;
nomem:
  rc = sc_error_set(c->err, SC_ENOMEM, "out of memory");
out:
  if (paired) {
    free(a);
    free(b);
  }
  free(d);
  return rc;
}

static int compare_targets(struct ctx *c, const struct tstats *cur, const struct tstats *cand) {
  int rc = SC_OK;
  int paired = !strcmp(c->mode, "shadow");
  if (paired) {
    int64_t n_err = 0, eb = 0, ec = 0, n_dec = 0, fb = 0, fc = 0, n_sc = 0;
    int64_t lab_neg = 0, fpb = 0, fpc = 0, lab_pos = 0, tpb = 0, tpc = 0;
    double *sd = malloc((c->nx ? c->nx : 1) * sizeof *sd);
    double *sa = malloc((c->nx ? c->nx : 1) * sizeof *sa);
    double *sb = malloc((c->nx ? c->nx : 1) * sizeof *sb);
    if (!sd || !sa || !sb) {
      free(sd), free(sa), free(sb);
      return sc_error_set(c->err, SC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->nx; i++) {
      const struct xr *x = &c->x[i];
      if (!x->present[T_CUR] || !x->present[T_CAND]) continue;
      n_err++;
      eb += x->err[T_CAND] && !x->err[T_CUR];
      ec += x->err[T_CUR] && !x->err[T_CAND];
      if (x->dec[T_CUR] >= 0 && x->dec[T_CAND] >= 0) {
        n_dec++;
        fb += x->dec[T_CAND] && !x->dec[T_CUR];
        fc += x->dec[T_CUR] && !x->dec[T_CAND];
        if (x->label == 0) {
          lab_neg++;
          fpb += x->dec[T_CAND] && !x->dec[T_CUR];
          fpc += x->dec[T_CUR] && !x->dec[T_CAND];
        } else if (x->label == 1) {
          lab_pos++;
          tpb += x->dec[T_CAND] && !x->dec[T_CUR];
          tpc += x->dec[T_CUR] && !x->dec[T_CAND];
        }
      }
      if (x->has_score[T_CUR] && x->has_score[T_CAND]) {
        sa[n_sc] = x->score[T_CAND];
        sb[n_sc] = x->score[T_CUR];
        sd[n_sc] = sa[n_sc] - sb[n_sc];
        n_sc++;
      }
    }
    rc = paired_delta(c, "error_rate_delta", eb, ec, n_err);
    if (!rc) rc = paired_delta(c, "positive_rate_delta", fb, fc, n_dec);
    if (!rc) {
      double lo, hi, chi2;
      sc_stats_wilson(fb + fc, n_dec, c->z, &lo, &hi);
      double p = sc_stats_mcnemar(fb, fc, &chi2);
      char det[128];
      snprintf(det, sizeof det, "{\"neg_to_pos\":%lld,\"pos_to_neg\":%lld}", (long long)fb, (long long)fc);
      double fr = n_dec ? (double)(fb + fc) / (double)n_dec : NAN;
      rc = metric(c, "candidate", "decision_flip_rate", fr, n_dec ? lo : NAN, n_dec ? hi : NAN, n_dec, p,
                  sc_stats_mde_prop(n_dec ? fr : 0, n_dec, 0, c->cfg->alpha, c->cfg->power), det);
      if (!rc) rc = metric(c, "candidate", "flips_neg_to_pos", (double)fb, NAN, NAN, n_dec, NAN, NAN, NULL);
      if (!rc) rc = metric(c, "candidate", "flips_pos_to_neg", (double)fc, NAN, NAN, n_dec, NAN, NAN, NULL);
    }
    if (!rc && (lab_neg || lab_pos)) {
      /* FPR/TPR shifts on the same labelled requests: paired differences. */
      rc = paired_delta(c, "fpr_delta", fpb, fpc, lab_neg);
      if (!rc) rc = paired_delta(c, "tpr_delta", tpb, tpc, lab_pos);
      double f0 = cur->fp + cur->tn ? (double)cur->fp / (double)(cur->fp + cur->tn) : NAN;
      double f1 = cand->fp + cand->tn ? (double)cand->fp / (double)(cand->fp + cand->tn) : NAN;
      if (!rc) rc = metric(c, "candidate", "fpr_rel_change", f0 > 0 ? f1 / f0 - 1 : NAN, NAN, NAN, lab_neg, NAN, NAN, NULL);
    }
    if (!rc) {
      if (n_sc) {
        struct sc_wsr w;
        double est, lo, hi;
        rc = sc_stats_wilcoxon(sd, (size_t)n_sc, &w);
        if (!rc)
          rc = sc_stats_bootstrap(sa, (size_t)n_sc, sb, (size_t)n_sc, -1, 1, 0, boot_iters(c, (size_t)n_sc * 2),
                                  c->cfg->alpha, c->cfg->seed + 20, &est, &lo, &hi);
        if (rc) rc = sc_error_set(c->err, rc, "out of memory");
        else rc = metric(c, "candidate", "score_delta_mean", est, lo, hi, n_sc, w.p, half_to_mde(c, lo, hi),
                         "{\"paired\":true,\"test\":\"wilcoxon\"}");
      } else {
        rc = metric(c, "candidate", "score_delta_mean", NAN, NAN, NAN, 0, NAN, INFINITY, NULL);
      }
    }
    free(sd), free(sa), free(sb);
    if (!rc) rc = rate(c, "candidate", "status_mismatch_rate", c->status_mismatch, c->pairs_total[0]);
  } else {
    rc = unpaired_delta(c, "error_rate_delta", cand->errors, cand->n, cur->errors, cur->n);
    if (!rc) rc = unpaired_delta(c, "positive_rate_delta", cand->positives, cand->known, cur->positives, cur->known);
    if (!rc)
      rc = metric(c, "candidate", "decision_flip_rate", NAN, NAN, NAN, 0, NAN, NAN,
                  "{\"not_applicable\":\"canary runs are unpaired: no request is answered by both\"}");
    if (!rc && (cur->labelled || cand->labelled)) {
      rc = unpaired_delta(c, "fpr_delta", cand->fp, cand->fp + cand->tn, cur->fp, cur->fp + cur->tn);
      if (!rc) rc = unpaired_delta(c, "tpr_delta", cand->tp, cand->tp + cand->fn, cur->tp, cur->tp + cur->fn);
      double f0 = cur->fp + cur->tn ? (double)cur->fp / (double)(cur->fp + cur->tn) : NAN;
      double f1 = cand->fp + cand->tn ? (double)cand->fp / (double)(cand->fp + cand->tn) : NAN;
      if (!rc) rc = metric(c, "candidate", "fpr_rel_change", f0 > 0 ? f1 / f0 - 1 : NAN, NAN, NAN,
                           cand->fp + cand->tn, NAN, NAN, NULL);
    }
    if (!rc) {
      double m1 = cand->scored ? cand->score_sum / (double)cand->scored : NAN;
      double m0 = cur->scored ? cur->score_sum / (double)cur->scored : NAN;
      rc = metric(c, "candidate", "score_delta_mean", m1 - m0, NAN, NAN,
                  cand->scored < cur->scored ? cand->scored : cur->scored, NAN, NAN, "{\"paired\":false}");
    }
  }
  if (!rc) rc = latency_compare(c, paired, cur, cand);
  return rc;
}

/* Per-path statistics and the regression count. */
static int path_metrics(struct ctx *c) {
  sqlite3_stmt *st = NULL;
  int rc = sc_db_prepare(c->db, &st,
                         "INSERT INTO path_stats (run_id, step, path, n, diff_count, diff_rate, noise_n,"
                         " noise_count, noise_rate, p_value, regression, noisy) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                         c->err);
  if (rc) return rc;
  int64_t regressions = 0, noisy = 0;
  int64_t n = c->pairs_compared[0], nn = c->pairs_compared[1];
  for (size_t i = 0; i < c->paths.n; i++) {
    const struct sc_noise_entry *e = &c->paths.v[i];
    struct sc_noise_verdict v;
    sc_noise_classify(e->count[0], n, e->count[1], nn, c->cfg->noise_margin, c->cfg->noise_alpha, &v);
    regressions += v.regression;
    noisy += v.noisy;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, c->run_id);
    bind_step(st, 2, c->step);
    sqlite3_bind_text(st, 3, e->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, n);
    sqlite3_bind_int64(st, 5, e->count[0]);
    bind_dbl(st, 6, n ? v.diff_rate : 0);
    sqlite3_bind_int64(st, 7, nn);
    sqlite3_bind_int64(st, 8, e->count[1]);
    bind_dbl(st, 9, v.noise_rate);
    bind_dbl(st, 10, v.p_value);
    sqlite3_bind_int(st, 11, v.regression);
    sqlite3_bind_int(st, 12, v.noisy);
    if (sqlite3_step(st) != SQLITE_DONE) {
      rc = dberr(c, "cannot store path statistics");
      break;
    }
  }
  sqlite3_finalize(st);
  if (rc) return rc;
  char det[160];
  snprintf(det, sizeof det, "{\"paths\":%zu,\"noise_measured\":%s,\"noise_pairs\":%lld}", c->paths.n,
           nn ? "true" : "false", (long long)nn);
  rc = metric(c, "candidate", "regression_paths", (double)regressions, NAN, NAN, n, NAN, NAN, det);
  if (!rc) rc = metric(c, "candidate", "noisy_paths", (double)noisy, NAN, NAN, nn, NAN, NAN, det);
  if (!rc && c->pairs_total[0]) rc = rate(c, "candidate", "body_diff_rate", c->pairs_differ[0], c->pairs_compared[0]);
  if (!rc && c->pairs_total[1]) rc = rate(c, "secondary", "body_diff_rate", c->pairs_differ[1], c->pairs_compared[1]);
  return rc;
}

static int run_metrics(struct ctx *c) {
  sqlite3_stmt *st = NULL;
  int rc = simple(c, "all", "exchanges", (double)c->nx, (int64_t)c->nx);
  if (rc) return rc;
  int64_t labelled = 0;
  for (size_t i = 0; i < c->nx; i++) labelled += c->x[i].label >= 0;
  {
    /* detail records the last label import this analysis saw and the id of
     * its configuration, so gate and report can tell a stale analysis. */
    int64_t last_import = 0;
    rc = sc_db_prepare(c->db, &st, "SELECT coalesce(max(id), 0) FROM label_imports", c->err);
    if (rc) return rc;
    if (sqlite3_step(st) == SQLITE_ROW) last_import = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    char det[96], cid[17];
    sc_config_analysis_id(c->cfg, cid);
    snprintf(det, sizeof det, "{\"label_import\":%lld,\"config\":\"%s\"}", (long long)last_import, cid);
    rc = rate_detail(c, "all", "label_coverage", labelled, (int64_t)c->nx, det);
  }
  if (rc) return rc;
  rc = sc_db_prepare(c->db, &st,
                     "SELECT capture_exchanges, capture_kernel_drops, capture_stream_gaps, capture_truncated,"
                     " capture_unpaired, (julianday(finished_at) - julianday(started_at)) * 86400.0"
                     " FROM runs WHERE id = ?", c->err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, c->run_id);
  if (sqlite3_step(st) == SQLITE_ROW) {
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
      rc = metric(c, "all", "capture_loss", 0, NAN, NAN, 0, NAN, NAN,
                  "{\"measured\":false,\"reason\":\"the traffic file carries no capture counters\"}");
    } else {
      int64_t ex = sqlite3_column_int64(st, 0), lost = 0;
      for (int k = 1; k <= 4; k++) lost += sqlite3_column_int64(st, k);
      double tot = (double)(ex + lost);
      char det[200];
      snprintf(det, sizeof det, "{\"measured\":true,\"kernel_drops\":%lld,\"stream_gaps\":%lld,\"truncated\":%lld,\"unpaired\":%lld}",
               (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2),
               (long long)sqlite3_column_int64(st, 3), (long long)sqlite3_column_int64(st, 4));
      rc = metric(c, "all", "capture_loss", tot > 0 ? (double)lost / tot : 0, NAN, NAN, ex + lost, NAN, NAN, det);
    }
    if (!rc && c->step < 0 && sqlite3_column_type(st, 5) != SQLITE_NULL)
      rc = simple(c, "all", "duration_s", sqlite3_column_double(st, 5), (int64_t)c->nx);
  }
  sqlite3_finalize(st);
  return rc;
}

/* Number of values >= th in sorted a[0..n). */
static size_t above(const double *a, size_t n, double th) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t md = lo + (hi - lo) / 2;
    if (a[md] < th) lo = md + 1;
    else hi = md;
  }
  return n - lo;
}

/* Threshold sweep per target and the candidate threshold keeping today's
 * alert volume. */
static int sweep(struct ctx *c) {
  sqlite3_stmt *st = NULL;
  int rc = sc_db_prepare(c->db, &st,
                         "INSERT INTO threshold_sweep (run_id, step, target, threshold, n, positive_rate, fpr, tpr)"
                         " VALUES (?,?,?,?,?,?,?,?)", c->err);
  if (rc) return rc;
  double *all = malloc((c->nx ? c->nx : 1) * sizeof *all);
  double *neg = malloc((c->nx ? c->nx : 1) * sizeof *neg);
  double *pos = malloc((c->nx ? c->nx : 1) * sizeof *pos);
  if (!all || !neg || !pos) {
    rc = sc_error_set(c->err, SC_ENOMEM, "out of memory");
    goto out;
  }
  double cur_rate = NAN;
  for (int t = 0; t < NT && !rc; t++) {
    size_t n = 0, nneg = 0, npos = 0;
    for (size_t i = 0; i < c->nx; i++) {
      const struct xr *x = &c->x[i];
      if (!x->present[t] || !x->has_score[t] || x->err[t]) continue;
      all[n++] = x->score[t];
      if (x->label == 0) neg[nneg++] = x->score[t];
      else if (x->label == 1) pos[npos++] = x->score[t];
    }
    if (!n) continue;
    sc_stats_sort(all, n);
    sc_stats_sort(neg, nneg);
    sc_stats_sort(pos, npos);
    for (size_t k = 0; k < c->cfg->n_sweep; k++) {
      double th = c->cfg->sweep[k];
      /* count of values >= th: n - lower_bound(th) */
      size_t a = above(all, n, th), fp = above(neg, nneg, th), tp = above(pos, npos, th);
      sqlite3_reset(st);
      sqlite3_bind_int64(st, 1, c->run_id);
      bind_step(st, 2, c->step);
      sqlite3_bind_text(st, 3, tname[t], -1, SQLITE_STATIC);
      bind_dbl(st, 4, th);
      sqlite3_bind_int64(st, 5, (int64_t)n);
      bind_dbl(st, 6, (double)a / (double)n);
      bind_dbl(st, 7, nneg ? (double)fp / (double)nneg : NAN);
      bind_dbl(st, 8, npos ? (double)tp / (double)npos : NAN);
      if (sqlite3_step(st) != SQLITE_DONE) {
        rc = dberr(c, "cannot store threshold sweep");
        break;
      }
    }
    if (rc) break;
    double th = c->cfg->threshold;
    if (t == T_CUR) {
      cur_rate = (double)above(all, n, th) / (double)n;
    } else if (t == T_CAND && !isnan(cur_rate)) {
      /* smallest threshold whose positive count stays <= cur_rate * n */
      size_t m = (size_t)floor(cur_rate * (double)n + 1e-9);
      double v;
      if (m >= n) v = all[0];
      else v = nextafter(all[n - m - 1], INFINITY);
      char det[96];
      snprintf(det, sizeof det, "{\"current_positive_rate\":%.6g}", cur_rate);
      rc = metric(c, "candidate", "threshold_same_volume", v, NAN, NAN, (int64_t)n, NAN, NAN, det);
    }
  }
out:
  free(all);
  free(neg);
  free(pos);
  sqlite3_finalize(st);
  return rc;
}

/* Slices: per value of each slice rule. */
struct slice_row {
  size_t rule, value;
  int64_t n[NT], pos[NT], known[NT], neg_lab[NT], fp[NT];
  int64_t pairs, flips, b, c;
  double p, padj;
  double p99[NT];
};

static int slices(struct ctx *c) {
  if (!c->nslices) return SC_OK;
  int rc = SC_OK;
  size_t total = 0;
  for (size_t s = 0; s < c->nslices; s++) total += c->slice_vals[s].n;
  if (!total) return SC_OK;
  struct slice_row *rows = calloc(total, sizeof *rows);
  double *ps = calloc(total, sizeof *ps);
  double *lat = malloc((c->nx ? c->nx : 1) * sizeof *lat);
  sqlite3_stmt *st = NULL;
  if (!rows || !ps || !lat) {
    rc = sc_error_set(c->err, SC_ENOMEM, "out of memory");
    goto out;
  }
  int paired = !strcmp(c->mode, "shadow");
  size_t base = 0;
  for (size_t s = 0; s < c->nslices; s++) {
    for (size_t v = 0; v < c->slice_vals[s].n; v++) {
      struct slice_row *r = &rows[base + v];
      r->rule = s;
      r->value = v;
    }
    for (size_t i = 0; i < c->nx; i++) {
      uint32_t v = c->slice_idx[i * c->nslices + s];
      if (v == UINT32_MAX) continue;
      struct slice_row *r = &rows[base + v];
      const struct xr *x = &c->x[i];
      for (int t = 0; t < NT; t++) {
        if (!x->present[t]) continue;
        r->n[t]++;
        if (x->dec[t] >= 0) {
          r->known[t]++;
          r->pos[t] += x->dec[t];
          if (x->label == 0) {
            r->neg_lab[t]++;
            r->fp[t] += x->dec[t];
          }
        }
      }
      if (x->dec[T_CUR] >= 0 && x->dec[T_CAND] >= 0 && x->present[T_CUR] && x->present[T_CAND]) {
        r->pairs++;
        r->b += x->dec[T_CAND] && !x->dec[T_CUR];
        r->c += x->dec[T_CUR] && !x->dec[T_CAND];
      }
    }
    for (size_t v = 0; v < c->slice_vals[s].n; v++) {
      struct slice_row *r = &rows[base + v];
      r->flips = r->b + r->c;
      if (paired) r->p = sc_stats_mcnemar(r->b, r->c, NULL);
      else r->p = sc_stats_two_prop_z(r->pos[T_CAND], r->known[T_CAND], r->pos[T_CUR], r->known[T_CUR], NULL);
      ps[base + v] = r->p;
      /* p99 per target within the slice */
      for (int t = 0; t < NT; t++) {
        size_t m = 0;
        for (size_t i = 0; i < c->nx; i++) {
          if (c->slice_idx[i * c->nslices + s] != v) continue;
          const struct xr *x = &c->x[i];
          if (x->present[t] && x->answered[t] && !isnan(x->lat[t])) lat[m++] = x->lat[t];
        }
        r->p99[t] = m ? sc_stats_quantile_select(lat, m, 0.99) : NAN;
      }
    }
    base += c->slice_vals[s].n;
  }
  rc = !strcmp(c->cfg->correction ? c->cfg->correction : "holm", "bh") ? sc_stats_bh(ps, total) : sc_stats_holm(ps, total);
  if (rc) {
    rc = sc_error_set(c->err, rc, "out of memory");
    goto out;
  }
  rc = sc_db_prepare(c->db, &st,
                     "INSERT INTO slices (run_id, step, slice, value, target, n, flip_rate, positive_rate,"
                     " positive_rate_delta, fpr, latency_p99, p_value, p_adjusted, significant)"
                     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", c->err);
  if (rc) goto out;
  for (size_t k = 0; k < total && !rc; k++) {
    struct slice_row *r = &rows[k];
    r->padj = ps[k];
    double pr0 = r->known[T_CUR] ? (double)r->pos[T_CUR] / (double)r->known[T_CUR] : NAN;
    for (int t = 0; t < NT; t++) {
      if (!r->n[t]) continue;
      double pr = r->known[t] ? (double)r->pos[t] / (double)r->known[t] : NAN;
      sqlite3_reset(st);
      sqlite3_bind_int64(st, 1, c->run_id);
      bind_step(st, 2, c->step);
      sqlite3_bind_text(st, 3, c->slice_rules[r->rule], -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 4, c->slice_vals[r->rule].v[r->value].key, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 5, tname[t], -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 6, r->n[t]);
      bind_dbl(st, 7, t == T_CAND && paired && r->pairs ? (double)r->flips / (double)r->pairs : NAN);
      bind_dbl(st, 8, pr);
      bind_dbl(st, 9, t == T_CAND ? pr - pr0 : NAN);
      bind_dbl(st, 10, r->neg_lab[t] ? (double)r->fp[t] / (double)r->neg_lab[t] : NAN);
      bind_dbl(st, 11, r->p99[t]);
      bind_dbl(st, 12, t == T_CAND ? r->p : NAN);
      bind_dbl(st, 13, t == T_CAND ? r->padj : NAN);
      sqlite3_bind_int(st, 14, t == T_CAND && r->padj < c->cfg->alpha);
      if (sqlite3_step(st) != SQLITE_DONE) rc = dberr(c, "cannot store slices");
    }
  }
out:
  sqlite3_finalize(st);
  free(rows);
  free(ps);
  free(lat);
  return rc;
}

/* ---- entry points ------------------------------------------------------ */

int sc_analyze_run_slices(sqlite3 *db, int64_t run_id, int step, const struct sc_config *cfg,
                          const char *const *extra, size_t n_extra, struct sc_error *err) {
  struct ctx c;
  memset(&c, 0, sizeof c);
  c.db = db;
  c.run_id = run_id;
  c.step = step < 0 ? -1 : step;
  c.cfg = cfg;
  c.err = err;
  c.z = sc_stats_norm_quantile(1 - cfg->alpha / 2);
  sc_noise_map_init(&c.paths);
  for (size_t s = 0; s < MAX_SLICES; s++) sc_noise_map_init(&c.slice_vals[s]);
  for (size_t s = 0; s < cfg->n_slices && c.nslices < MAX_SLICES; s++) c.slice_rules[c.nslices++] = cfg->slices[s];
  for (size_t s = 0; s < n_extra && c.nslices < MAX_SLICES; s++) c.slice_rules[c.nslices++] = extra[s];
  int in_tx = 0, cache_set = 0;
  int64_t old_cache = -2000;
  int rc = sc_diff_rules_init(&c.rules, cfg, err);
  if (rc) return rc;
  rc = load_run(&c);
  if (rc) goto out;
  /* A large page cache keeps the inserts of a big run off the disk until
   * commit (the default 2 MiB cache spills constantly). */
  {
    sqlite3_stmt *cs = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA cache_size", -1, &cs, NULL) == SQLITE_OK && sqlite3_step(cs) == SQLITE_ROW)
      old_cache = sqlite3_column_int64(cs, 0);
    sqlite3_finalize(cs);
  }
  sqlite3_exec(db, "PRAGMA cache_size = -131072", NULL, NULL, NULL);
  cache_set = 1;
  rc = sc_db_exec(db, "SAVEPOINT sc_analyze", "cannot start analysis", err);
  if (rc) goto out;
  in_tx = 1;
  rc = clear_previous(&c);
  if (rc) goto out;
  rc = sc_db_prepare(db, &c.ins_dec, "INSERT OR REPLACE INTO decisions (run_id, seq, target, decision, label, score) VALUES (?,?,?,?,?,?)", err);
  if (!rc) rc = sc_db_prepare(db, &c.ins_pair, "INSERT OR REPLACE INTO pair_diffs (run_id, seq, pair, status_match, class, n_diffs, flip, score_delta) VALUES (?,?,?,?,?,?,?,?)", err);
  if (!rc) rc = sc_db_prepare(db, &c.ins_diff, "INSERT INTO diffs (run_id, seq, pair, path, kind, current_value, other_value) VALUES (?,?,?,?,?,?,?)", err);
  if (!rc) rc = sc_db_prepare(db, &c.ins_metric, "INSERT INTO metrics (run_id, step, scope, target, name, value, ci_lo, ci_hi, n, p_value, mde, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", err);
  if (rc) goto out;
  double t0 = sc_clock_mono_s();
  rc = pass(&c);
  if (rc) goto out;
  double t1 = sc_clock_mono_s();
  struct tstats ts[NT];
  memset(ts, 0, sizeof ts);
  for (int t = 0; t < NT && !rc; t++) rc = collect(&c, t, &ts[t]);
  for (int t = 0; t < NT && !rc; t++)
    if (ts[t].n) rc = target_metrics(&c, t, &ts[t]);
  double t2 = sc_clock_mono_s();
  if (!rc && ts[T_CAND].n && ts[T_CUR].n) rc = compare_targets(&c, &ts[T_CUR], &ts[T_CAND]);
  double t3 = sc_clock_mono_s();
  for (int t = 0; t < NT; t++) free(ts[t].lat);
  if (!rc) rc = path_metrics(&c);
  if (!rc) rc = run_metrics(&c);
  if (!rc) rc = sweep(&c);
  if (!rc) rc = slices(&c);
  sc_log_debug("analyze run %lld: %zu exchanges; pass %.2fs, per-target %.2fs, comparisons %.2fs, rest %.2fs",
               (long long)run_id, c.nx, t1 - t0, t2 - t1, t3 - t2, sc_clock_mono_s() - t3);
out:
  sqlite3_finalize(c.ins_dec);
  sqlite3_finalize(c.ins_pair);
  sqlite3_finalize(c.ins_diff);
  sqlite3_finalize(c.ins_metric);
  if (in_tx) {
    if (rc) {
      sqlite3_exec(db, "ROLLBACK TO sc_analyze; RELEASE sc_analyze", NULL, NULL, NULL);
    } else {
      rc = sc_db_exec(db, "RELEASE sc_analyze", "cannot commit analysis", err);
    }
  }
  if (cache_set) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = %lld", (long long)old_cache);
    sqlite3_exec(db, sql, NULL, NULL, NULL); /* the caller's setting back (memory) */
  }
  sc_diff_rules_release(&c.rules);
  sc_noise_map_release(&c.paths);
  for (size_t s = 0; s < MAX_SLICES; s++) sc_noise_map_release(&c.slice_vals[s]);
  free(c.x);
  free(c.slice_idx);
  if (rc) sc_error_prefix(err, "analysis of run %lld%s", (long long)run_id, step >= 0 ? " step" : "");
  return rc;
}

int sc_analyze_run(sqlite3 *db, int64_t run_id, int step, const struct sc_config *cfg, struct sc_error *err) {
  return sc_analyze_run_slices(db, run_id, step, cfg, NULL, 0, err);
}

int sc_analyze_resolve_run(sqlite3 *db, const char *spec, int64_t *run_id, struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (!spec || !strcmp(spec, "latest")) {
    rc = sc_db_prepare(db, &st, "SELECT max(id) FROM runs", err);
    if (rc) return rc;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
      *run_id = sqlite3_column_int64(st, 0);
      rc = SC_OK;
    } else {
      rc = sc_error_set(err, SC_ENOTFOUND, "no run in the database");
    }
    sqlite3_finalize(st);
    return rc;
  }
  char *end = NULL;
  long long v = strtoll(spec, &end, 10);
  if (!*spec || *end || v <= 0) return sc_error_set(err, SC_EINVAL, "invalid run '%s' (expected a run id or 'latest')", spec);
  rc = sc_db_prepare(db, &st, "SELECT 1 FROM runs WHERE id = ?", err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, v);
  if (sqlite3_step(st) == SQLITE_ROW) {
    *run_id = v;
    rc = SC_OK;
  } else {
    rc = sc_error_set(err, SC_ENOTFOUND, "no run %lld in the database", v);
  }
  sqlite3_finalize(st);
  return rc;
}

int sc_metrics_get(sqlite3 *db, int64_t run_id, int step, const char *name, const char *target,
                   struct sc_metric *out, struct sc_error *err) {
  memset(out, 0, sizeof *out);
  out->value = out->ci_lo = out->ci_hi = out->p_value = out->mde = NAN;
  sqlite3_stmt *st = NULL;
  int rc = sc_db_prepare(db, &st,
                         "SELECT value, ci_lo, ci_hi, n, p_value, mde, detail FROM metrics"
                         " WHERE run_id = ?1 AND step IS ?2 AND name = ?3 AND target = ?4 LIMIT 1", err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, run_id);
  bind_step(st, 2, step);
  sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, target ? target : "candidate", -1, SQLITE_STATIC);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    out->found = 1;
#define COL(i) (sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i))
    out->value = COL(0);
    out->ci_lo = COL(1);
    out->ci_hi = COL(2);
    out->n = sqlite3_column_int64(st, 3);
    out->p_value = COL(4);
    out->mde = COL(5);
#undef COL
    const unsigned char *d = sqlite3_column_text(st, 6);
    snprintf(out->detail, sizeof out->detail, "%s", d ? (const char *)d : "");
  } else if (s != SQLITE_DONE) {
    rc = sc_db_err(db, "cannot read metric", err);
  }
  sqlite3_finalize(st);
  return rc;
}

int sc_analyze_has_labels(sqlite3 *db, int64_t run_id) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT 1 FROM exchanges e JOIN labels l ON l.request_key = e.request_key"
                         " WHERE e.run_id = ? LIMIT 1", -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_int64(st, 1, run_id);
  int r = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return r;
}

/*
 * criteria.c - judging acceptance criteria against measured metrics: pass,
 * fail or inconclusive ("inconclusive, never a pass" when the sample cannot
 * detect the threshold), and parsing "metric<=value" criteria from flags.
 * Stage: gate. Reference: issue 5, schemas/analysis.sql (mde, intervals),
 * gate/gate.h (the numbered judgement rules).
 */
#include "gate/gate.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/buf.h"

const char *sc_gate_status_str(enum sc_gate_status s) {
  switch (s) {
  case SC_GATE_PASS: return "pass";
  case SC_GATE_FAIL: return "fail";
  case SC_GATE_NA: return "not applicable";
  default: return "inconclusive";
  }
}

int sc_gate_exit_status(enum sc_gate_status s) {
  switch (s) {
  case SC_GATE_PASS: return SC_EXIT_OK;
  case SC_GATE_FAIL: return SC_EXIT_FAIL;
  case SC_GATE_NA: return SC_EXIT_OK;
  default: return SC_EXIT_INCONCLUSIVE;
  }
}

static const char *op_str(enum sc_cmp c) {
  switch (c) {
  case SC_CMP_LT: return "<";
  case SC_CMP_LE: return "<=";
  case SC_CMP_GT: return ">";
  case SC_CMP_GE: return ">=";
  default: return "==";
  }
}

/* 1 when `v c t` holds (NAN never holds). */
static int holds(enum sc_cmp c, double v, double t) {
  if (isnan(v)) return 0;
  switch (c) {
  case SC_CMP_LT: return v < t;
  case SC_CMP_LE: return v <= t;
  case SC_CMP_GT: return v > t;
  case SC_CMP_GE: return v >= t;
  default: return fabs(v - t) <= 1e-12 * fmax(1.0, fabs(t));
  }
}

/* Metrics whose shortfall means "not enough evidence", not "regression". */
static int is_coverage(const char *m) {
  return !strcmp(m, "exchanges") || !strcmp(m, "labelled") || !strcmp(m, "label_coverage");
}

static double null_value(const char *m) {
  size_t n = strlen(m);
  return n >= 6 && !strcmp(m + n - 6, "_ratio") ? 1.0 : 0.0;
}

static void copy(char *dst, size_t n, const char *src) {
  snprintf(dst, n, "%s", src ? src : "");
}

void sc_gate_judge(const struct sc_criterion *c, const struct sc_metric *m,
                   const struct sc_metric *cur, int has_labels, struct sc_gate_item *o) {
  memset(o, 0, sizeof *o);
  const char *metric = c->metric ? c->metric : "";
  copy(o->metric, sizeof o->metric, metric);
  copy(o->name, sizeof o->name, c->name && c->name[0] ? c->name : metric);
  copy(o->target, sizeof o->target, c->target && c->target[0] ? c->target : "candidate");
  copy(o->op, sizeof o->op, op_str(c->cmp));
  o->threshold = o->effective = c->threshold;
  o->use_abs = c->use_abs;
  o->value = o->ci_lo = o->ci_hi = o->mde = NAN;
  o->status = SC_GATE_INCONCLUSIVE;

  if (c->needs_labels && !has_labels) {
    copy(o->reason, sizeof o->reason, "no labels for this run: import them with 'shadowctl labels import'");
    return;
  }
  if (m && m->found && isnan(m->value) && strstr(m->detail, "not_applicable")) {
    /* detail is {"not_applicable": "why"}; show the why */
    json_t *dj = json_loads(m->detail, 0, NULL);
    const char *why = json_string_value(json_object_get(dj, "not_applicable"));
    snprintf(o->reason, sizeof o->reason, "not applicable to this run: %s", why ? why : m->detail);
    json_decref(dj);
    o->status = SC_GATE_NA;
    return;
  }
  if (!m || !m->found || isnan(m->value)) {
    snprintf(o->reason, sizeof o->reason, "metric %s of %s was not measured", metric, o->target);
    return;
  }
  double v = m->value, lo = m->ci_lo, hi = m->ci_hi;
  int has_ci = !isnan(lo) && !isnan(hi);
  if (c->use_abs) {
    v = fabs(v);
    if (has_ci) {
      double a = fabs(lo), b = fabs(hi);
      double nlo = (lo <= 0 && hi >= 0) ? 0 : fmin(a, b);
      hi = fmax(a, b);
      lo = nlo;
    }
  }
  o->has_value = 1;
  o->value = v;
  o->n = m->n;
  o->mde = m->mde;
  if (has_ci) { o->ci_lo = lo; o->ci_hi = hi; }

  double thr = c->threshold;
  if (c->relative) {
    if (!cur || !cur->found || isnan(cur->value)) {
      snprintf(o->reason, sizeof o->reason, "relative criterion: current value of %s not measured", metric);
      return;
    }
    thr = (c->use_abs ? fabs(cur->value) : cur->value) * (1.0 + c->threshold);
  }
  o->effective = thr;

  int statistical = has_ci || !isnan(m->mde);
  int64_t min_n = c->min_samples > 0 ? c->min_samples : (statistical ? SC_GATE_DEFAULT_MIN_SAMPLES : 0);
  if (m->n < min_n) {
    snprintf(o->reason, sizeof o->reason, "only %lld samples, %lld needed", (long long)m->n,
             (long long)min_n);
    return;
  }
  /* Failing side: for < and <= large values fail; for > and >= small ones. */
  int fail_high = c->cmp == SC_CMP_LT || c->cmp == SC_CMP_LE;
  double fail_bound = fail_high ? lo : hi;  /* interval end nearest the passing side */
  double pass_bound = fail_high ? hi : lo;  /* interval end nearest the failing side */
  double margin = fabs(thr - null_value(metric));
  int underpowered = !isnan(m->mde) && m->mde > margin;

  if (has_ci && c->cmp != SC_CMP_EQ && !holds(c->cmp, fail_bound, thr)) {
    if (is_coverage(metric)) goto short_coverage;
    snprintf(o->reason, sizeof o->reason, "%g [%g, %g] breaches %s %g", v, lo, hi, o->op, thr);
    o->status = SC_GATE_FAIL;
    return;
  }
  if (!holds(c->cmp, v, thr)) {
    if (is_coverage(metric)) goto short_coverage;
    if (c->use_interval && has_ci) {
      snprintf(o->reason, sizeof o->reason,
               "%g breaches %s %g but its interval [%g, %g] reaches the passing side", v, o->op, thr, lo, hi);
      return;
    }
    if (underpowered && has_ci) {
      snprintf(o->reason, sizeof o->reason,
               "%g breaches %s %g but the sample is too small to tell (mde %g > margin %g)", v, o->op,
               thr, m->mde, margin);
      return;
    }
    snprintf(o->reason, sizeof o->reason, "%g breaches %s %g", v, o->op, thr);
    o->status = SC_GATE_FAIL;
    return;
  }
  if (underpowered) {
    snprintf(o->reason, sizeof o->reason,
             "sample too small to detect a breach: mde %g > margin %g (n=%lld)", m->mde, margin,
             (long long)m->n);
    return;
  }
  if (isnan(m->mde) && has_ci && c->cmp != SC_CMP_EQ && !holds(c->cmp, pass_bound, thr)) {
    snprintf(o->reason, sizeof o->reason, "interval [%g, %g] reaches past %s %g", lo, hi, o->op, thr);
    return;
  }
  o->status = SC_GATE_PASS;
  if (has_ci)
    snprintf(o->reason, sizeof o->reason, "%g [%g, %g] within %s %g", v, lo, hi, o->op, thr);
  else
    snprintf(o->reason, sizeof o->reason, "%g within %s %g", v, o->op, thr);
  return;

short_coverage:
  snprintf(o->reason, sizeof o->reason, "%s is %g, %s %g needed (too few samples or labels)", metric,
           v, o->op, thr);
}

enum sc_gate_status sc_gate_combine(const struct sc_gate_item *items, size_t n) {
  enum sc_gate_status v = SC_GATE_PASS;
  size_t applicable = 0;
  for (size_t i = 0; i < n; i++) {
    if (items[i].status == SC_GATE_NA) continue;
    applicable++;
    if (items[i].status == SC_GATE_FAIL) return SC_GATE_FAIL;
    if (items[i].status == SC_GATE_INCONCLUSIVE) v = SC_GATE_INCONCLUSIVE;
  }
  return applicable ? v : SC_GATE_INCONCLUSIVE;
}

void sc_gate_result_init(struct sc_gate_result *r) {
  memset(r, 0, sizeof *r);
  r->step = -1;
  r->verdict = SC_GATE_INCONCLUSIVE;
}

void sc_gate_result_release(struct sc_gate_result *r) {
  free(r->items);
  sc_gate_result_init(r);
}

void sc_gate_breached_names(const struct sc_gate_result *r, char *buf, size_t n) {
  size_t len = 0;
  if (!n) return;
  buf[0] = '\0';
  for (size_t i = 0; i < r->n; i++) {
    if (r->items[i].status != SC_GATE_FAIL) continue;
    int w = snprintf(buf + len, n - len, "%s%s", len ? "," : "", r->items[i].name);
    if (w < 0 || (size_t)w >= n - len) break;
    len += (size_t)w;
  }
}

void sc_gate_criterion_release(struct sc_criterion *c) {
  free(c->name);
  free(c->metric);
  free(c->target);
  memset(c, 0, sizeof *c);
}

/* metric: [A-Za-z0-9_.]+, optionally wrapped in abs( ) and suffixed
 * "@target" ("error_rate@current<=0.01"). */
int sc_gate_criterion_parse(const char *text, struct sc_criterion *c, struct sc_error *err) {
  memset(c, 0, sizeof *c);
  const char *p = text;
  while (isspace((unsigned char)*p)) p++;
  int abs_ = 0;
  if (!strncmp(p, "abs(", 4)) { abs_ = 1; p += 4; }
  const char *ms = p;
  while (isalnum((unsigned char)*p) || *p == '_' || *p == '.') p++;
  size_t mlen = (size_t)(p - ms);
  const char *ts = NULL;
  size_t tlen = 0;
  if (*p == '@') {
    ts = ++p;
    while (isalpha((unsigned char)*p)) p++;
    tlen = (size_t)(p - ts);
  }
  if (abs_) {
    if (*p != ')') goto bad;
    p++;
  }
  while (isspace((unsigned char)*p)) p++;
  enum sc_cmp cmp;
  if (!strncmp(p, "<=", 2)) { cmp = SC_CMP_LE; p += 2; }
  else if (!strncmp(p, ">=", 2)) { cmp = SC_CMP_GE; p += 2; }
  else if (!strncmp(p, "==", 2)) { cmp = SC_CMP_EQ; p += 2; }
  else if (*p == '<') { cmp = SC_CMP_LT; p++; }
  else if (*p == '>') { cmp = SC_CMP_GT; p++; }
  else goto bad;
  if (!mlen || mlen >= 64 || (ts && (!tlen || tlen >= 16))) goto bad;
  while (isspace((unsigned char)*p)) p++;
  char *end = NULL;
  errno = 0;
  double v = strtod(p, &end);
  if (end == p || errno || !isfinite(v)) goto bad;
  int pct = 0;
  if (*end == '%') { pct = 1; end++; }
  while (isspace((unsigned char)*end)) end++;
  if (*end) goto bad;
  c->metric = sc_memdup0(ms, mlen);
  c->name = sc_memdup0(text, strlen(text));
  c->target = ts ? sc_memdup0(ts, tlen) : NULL;
  if (!c->metric || !c->name || (ts && !c->target)) {
    sc_gate_criterion_release(c);
    return sc_error_set(err, SC_ENOMEM, "out of memory");
  }
  c->cmp = cmp;
  c->threshold = pct ? v / 100.0 : v;
  c->use_abs = abs_;
  c->needs_labels = !strncmp(c->metric, "fpr", 3) || !strncmp(c->metric, "tpr", 3) ||
                    !strcmp(c->metric, "precision") || !strcmp(c->metric, "recall");
  return SC_OK;
bad:
  return sc_error_set(err, SC_EUSAGE,
                      "invalid criterion '%s' (expected METRIC OP VALUE, e.g. 'latency_p99_ratio<=1.2')",
                      text);
}

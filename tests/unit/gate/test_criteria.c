/* test_criteria.c - src/gate/criteria.c: pass / fail / inconclusive table,
 * "inconclusive, never a pass" when underpowered, criterion parsing. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "gate/gate.h"

struct judge_case {
  const char *what;
  const char *metric;
  enum sc_cmp cmp;
  double thr;
  int needs_labels, has_labels, use_abs, use_interval;
  int found;
  double v, lo, hi, mde;
  long long n;
  enum sc_gate_status want;
};

#define N NAN
static const struct judge_case cases[] = {
  {"clear pass", "latency_p99_ratio", SC_CMP_LE, 1.2, 0, 0, 0, 0, 1, 1.01, 0.95, 1.08, 0.1, 5000, SC_GATE_PASS},
  {"clear fail, interval beyond", "latency_p99_ratio", SC_CMP_LE, 1.2, 0, 0, 0, 0, 1, 1.4, 1.3, 1.5, 0.1, 5000, SC_GATE_FAIL},
  {"point fails, powered", "latency_p99_ratio", SC_CMP_LE, 1.2, 0, 0, 0, 0, 1, 1.25, 1.15, 1.35, 0.1, 5000, SC_GATE_FAIL},
  {"point fails, underpowered, straddles", "latency_p99_ratio", SC_CMP_LE, 1.2, 0, 0, 0, 0, 1, 1.25, 0.8, 1.7, 0.5, 40, SC_GATE_INCONCLUSIVE},
  {"point fails, use_interval", "error_rate_delta", SC_CMP_LE, 0.01, 0, 0, 0, 1, 1, 0.012, 0.005, 0.02, 0.005, 5000, SC_GATE_INCONCLUSIVE},
  {"point passes, underpowered", "latency_p99_ratio", SC_CMP_LE, 1.2, 0, 0, 0, 0, 1, 1.0, 0.6, 1.6, 0.5, 40, SC_GATE_INCONCLUSIVE},
  {"too few samples", "error_rate_delta", SC_CMP_LE, 0.01, 0, 0, 0, 0, 1, 0.0, -0.01, 0.01, 0.001, 20, SC_GATE_INCONCLUSIVE},
  {"not measured", "decision_flip_rate", SC_CMP_LE, 0.05, 0, 0, 0, 0, 0, N, N, N, N, 0, SC_GATE_INCONCLUSIVE},
  {"NULL value", "decision_flip_rate", SC_CMP_LE, 0.05, 0, 0, 0, 0, 1, N, N, N, N, 0, SC_GATE_INCONCLUSIVE},
  {"labels missing", "fpr_delta", SC_CMP_LE, 0.02, 1, 0, 0, 0, 1, 0.0, -0.01, 0.01, 0.01, 5000, SC_GATE_INCONCLUSIVE},
  {"labels present, fpr jump", "fpr_delta", SC_CMP_LE, 0.02, 1, 1, 0, 0, 1, 0.10, 0.08, 0.12, 0.01, 5000, SC_GATE_FAIL},
  {"no mde, interval reaches past", "error_rate_delta", SC_CMP_LE, 0.01, 0, 0, 0, 0, 1, 0.0, -0.02, 0.02, N, 5000, SC_GATE_INCONCLUSIVE},
  {"no mde, interval inside", "error_rate_delta", SC_CMP_LE, 0.01, 0, 0, 0, 0, 1, 0.0, -0.005, 0.005, N, 5000, SC_GATE_PASS},
  {"abs: negative shift breaches", "positive_rate_delta", SC_CMP_LE, 0.02, 0, 0, 1, 0, 1, -0.05, -0.06, -0.04, 0.005, 5000, SC_GATE_FAIL},
  {"abs: small shift passes", "positive_rate_delta", SC_CMP_LE, 0.02, 0, 0, 1, 0, 1, -0.001, -0.004, 0.002, 0.005, 5000, SC_GATE_PASS},
  {"deterministic count passes", "capture_loss", SC_CMP_LE, 0.01, 0, 0, 0, 0, 1, 0.0, N, N, N, 0, SC_GATE_PASS},
  {"deterministic count fails", "capture_loss", SC_CMP_LE, 0.01, 0, 0, 0, 0, 1, 0.05, N, N, N, 0, SC_GATE_FAIL},
  {"min exchanges short -> inconclusive", "exchanges", SC_CMP_GE, 200, 0, 0, 0, 0, 1, 20, N, N, N, 20, SC_GATE_INCONCLUSIVE},
  {"min exchanges met", "exchanges", SC_CMP_GE, 200, 0, 0, 0, 0, 1, 2000, N, N, N, 2000, SC_GATE_PASS},
  {">= criterion fails low", "tpr_delta", SC_CMP_GE, -0.02, 0, 1, 0, 0, 1, -0.2, -0.25, -0.15, 0.01, 5000, SC_GATE_FAIL},
  {">= criterion passes", "tpr_delta", SC_CMP_GE, -0.02, 0, 1, 0, 0, 1, 0.0, -0.01, 0.01, 0.01, 5000, SC_GATE_PASS},
};

Test(criteria, judge_table) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct judge_case *k = &cases[i];
    struct sc_criterion c = {0};
    c.metric = (char *)k->metric;
    c.cmp = k->cmp;
    c.threshold = k->thr;
    c.needs_labels = k->needs_labels;
    c.use_abs = k->use_abs;
    c.use_interval = k->use_interval;
    struct sc_metric m = {0};
    m.found = k->found;
    m.value = k->v;
    m.ci_lo = k->lo;
    m.ci_hi = k->hi;
    m.mde = k->mde;
    m.n = k->n;
    m.p_value = NAN;
    struct sc_gate_item it;
    sc_gate_judge(&c, &m, NULL, k->has_labels, &it);
    cr_expect_eq(it.status, k->want, "%s: got %s (%s)", k->what, sc_gate_status_str(it.status), it.reason);
    cr_expect(it.reason[0], "%s: empty reason", k->what);
    cr_expect_str_eq(it.name, k->metric);
  }
}

Test(criteria, relative_threshold_uses_current) {
  struct sc_criterion c = {0};
  c.metric = "error_rate";
  c.cmp = SC_CMP_LE;
  c.threshold = 0.1;
  c.relative = 1;
  struct sc_metric m = {1, 0.05, NAN, NAN, 1000, NAN, NAN, ""};
  struct sc_metric cur = {1, 0.04, NAN, NAN, 1000, NAN, NAN, ""};
  struct sc_gate_item it;
  sc_gate_judge(&c, &m, &cur, 0, &it);
  cr_assert_eq(it.status, SC_GATE_FAIL, "%s", it.reason);
  cr_assert_float_eq(it.effective, 0.044, 1e-9);
  cur.value = 0.05;
  sc_gate_judge(&c, &m, &cur, 0, &it);
  cr_assert_eq(it.status, SC_GATE_PASS, "%s", it.reason);
  sc_gate_judge(&c, &m, NULL, 0, &it);
  cr_assert_eq(it.status, SC_GATE_INCONCLUSIVE);
}

Test(criteria, combine) {
  struct sc_gate_item it[3];
  memset(it, 0, sizeof it);
  cr_assert_eq(sc_gate_combine(it, 0), SC_GATE_INCONCLUSIVE);
  cr_assert_eq(sc_gate_combine(it, 3), SC_GATE_PASS);
  it[1].status = SC_GATE_INCONCLUSIVE;
  cr_assert_eq(sc_gate_combine(it, 3), SC_GATE_INCONCLUSIVE);
  it[2].status = SC_GATE_FAIL;
  cr_assert_eq(sc_gate_combine(it, 3), SC_GATE_FAIL);
  cr_assert_eq(sc_gate_exit_status(SC_GATE_FAIL), 1);
  cr_assert_eq(sc_gate_exit_status(SC_GATE_INCONCLUSIVE), 3);
  cr_assert_eq(sc_gate_exit_status(SC_GATE_PASS), 0);
  struct sc_gate_result r;
  sc_gate_result_init(&r);
  strcpy(it[0].name, "a");
  strcpy(it[2].name, "latency_p99_ratio");
  it[0].status = SC_GATE_FAIL;
  r.items = it;
  r.n = 3;
  char buf[64];
  sc_gate_breached_names(&r, buf, sizeof buf);
  cr_assert_str_eq(buf, "a,latency_p99_ratio");
}

struct parse_case {
  const char *in;
  int ok;
  const char *metric;
  enum sc_cmp cmp;
  double thr;
  int use_abs;
  const char *target;
};

Test(criteria, parse_table) {
  static const struct parse_case pc[] = {
    {"latency_p99_ratio<=1.2", 1, "latency_p99_ratio", SC_CMP_LE, 1.2, 0, NULL},
    {" exchanges >= 1000 ", 1, "exchanges", SC_CMP_GE, 1000, 0, NULL},
    {"abs(positive_rate_delta)<2%", 1, "positive_rate_delta", SC_CMP_LT, 0.02, 1, NULL},
    {"error_rate@current==0", 1, "error_rate", SC_CMP_EQ, 0, 0, "current"},
    {"fpr_delta>-0.5", 1, "fpr_delta", SC_CMP_GT, -0.5, 0, NULL},
    {"latency_p99_ratio", 0, NULL, 0, 0, 0, NULL},
    {"<=1.2", 0, NULL, 0, 0, 0, NULL},
    {"x<=abc", 0, NULL, 0, 0, 0, NULL},
    {"x<=1.2junk", 0, NULL, 0, 0, 0, NULL},
    {"abs(x<=1", 0, NULL, 0, 0, 0, NULL},
    {"x=<1", 0, NULL, 0, 0, 0, NULL},
    {"x<=inf", 0, NULL, 0, 0, 0, NULL},
    {"", 0, NULL, 0, 0, 0, NULL},
  };
  for (size_t i = 0; i < sizeof pc / sizeof pc[0]; i++) {
    struct sc_criterion c;
    struct sc_error err;
    sc_error_init(&err);
    int rc = sc_gate_criterion_parse(pc[i].in, &c, &err);
    if (!pc[i].ok) {
      cr_expect_eq(rc, SC_EUSAGE, "'%s' should fail", pc[i].in);
      cr_expect(strstr(err.msg, "invalid criterion"), "%s", err.msg);
      continue;
    }
    cr_assert_eq(rc, 0, "'%s': %s", pc[i].in, err.msg);
    cr_expect_str_eq(c.metric, pc[i].metric);
    cr_expect_eq(c.cmp, pc[i].cmp, "%s", pc[i].in);
    cr_expect_float_eq(c.threshold, pc[i].thr, 1e-12, "%s", pc[i].in);
    cr_expect_eq(c.use_abs, pc[i].use_abs);
    if (pc[i].target) cr_expect_str_eq(c.target, pc[i].target);
    else cr_expect_null(c.target);
    sc_gate_criterion_release(&c);
  }
  struct sc_criterion c;
  struct sc_error err;
  cr_assert_eq(sc_gate_criterion_parse("fpr_delta<=0.02", &c, &err), 0);
  cr_assert(c.needs_labels);
  sc_gate_criterion_release(&c);
}

Test(criteria, not_applicable_is_left_out) {
  struct sc_criterion c = {0};
  c.metric = "decision_flip_rate";
  c.cmp = SC_CMP_LE;
  c.threshold = 0.05;
  struct sc_metric m = {1, NAN, NAN, NAN, 0, NAN, NAN, "{\"not_applicable\": \"canary mode\"}"};
  struct sc_gate_item it[2];
  sc_gate_judge(&c, &m, NULL, 0, &it[0]);
  cr_assert_eq(it[0].status, SC_GATE_NA, "%s", it[0].reason);
  cr_assert_str_eq(sc_gate_status_str(SC_GATE_NA), "not applicable");
  cr_assert_eq(sc_gate_combine(it, 1), SC_GATE_INCONCLUSIVE);
  /* NULL without the marker stays inconclusive */
  struct sc_metric m2 = {1, NAN, NAN, NAN, 0, NAN, NAN, ""};
  sc_gate_judge(&c, &m2, NULL, 0, &it[1]);
  cr_assert_eq(it[1].status, SC_GATE_INCONCLUSIVE);
  it[1].status = SC_GATE_PASS;
  cr_assert_eq(sc_gate_combine(it, 2), SC_GATE_PASS);
}

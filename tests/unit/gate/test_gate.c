/* test_gate.c - src/gate/gate.c: sc_gate_eval over a results.db filled with
 * metric rows: whole run vs one step, 'all'-target fallback, labels,
 * missing run. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate/gate.h"
#include "store/db.h"

static char dir[64];
static sqlite3 *db;
static struct sc_config cfg;

static void exec(const char *sql) {
  char *msg = NULL;
  cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s: %s", sql, msg ? msg : "");
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/sc-test-gate.XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof path, "%s/r.db", dir);
  struct sc_error err;
  cr_assert_eq(sc_db_open(&db, path, SC_DB_CREATE, &err), 0, "%s", err.msg);
  cr_assert_eq(sc_config_init_defaults(&cfg), 0);
  exec("INSERT INTO runs (id, traffic_file, mode, current_url, pacing, started_at) VALUES"
       " (1, 't.shdw', 'canary', 'http://127.0.0.1:1', 'max', 'now')");
  exec("INSERT INTO metrics (run_id, step, scope, target, name, value, ci_lo, ci_hi, n, mde) VALUES"
       " (1, NULL, 'run', 'all', 'exchanges', 5000, NULL, NULL, 5000, NULL),"
       " (1, NULL, 'run', 'candidate', 'latency_p99_ratio', 1.02, 0.98, 1.06, 5000, 0.05),"
       " (1, 0, 'step', 'all', 'exchanges', 500, NULL, NULL, 500, NULL),"
       " (1, 0, 'step', 'candidate', 'latency_p99_ratio', 1.5, 1.4, 1.6, 500, 0.1),"
       " (1, 1, 'step', 'all', 'exchanges', 50, NULL, NULL, 50, NULL),"
       " (1, 1, 'step', 'candidate', 'latency_p99_ratio', 1.0, 0.5, 1.9, 50, 0.6)");
}

static void teardown(void) {
  sc_config_release(&cfg);
  sc_db_close(db);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(gate, .init = setup, .fini = teardown);

static void crit(struct sc_criterion *c, const char *text) {
  struct sc_error err;
  cr_assert_eq(sc_gate_criterion_parse(text, c, &err), 0, "%s", err.msg);
}

Test(gate, whole_run_and_steps) {
  struct sc_criterion c[2];
  crit(&c[0], "exchanges>=100");
  crit(&c[1], "latency_p99_ratio<=1.2");
  struct sc_gate_result r;
  struct sc_error err;
  static const struct { int step; enum sc_gate_status want; } cases[] = {
    {-1, SC_GATE_PASS}, {0, SC_GATE_FAIL}, {1, SC_GATE_INCONCLUSIVE}};
  for (size_t i = 0; i < 3; i++) {
    cr_assert_eq(sc_gate_eval_criteria(db, 1, cases[i].step, &cfg, c, 2, &r, &err), 0, "%s", err.msg);
    cr_expect_eq(r.verdict, cases[i].want, "step %d: %s / %s", cases[i].step, r.items[0].reason, r.items[1].reason);
    cr_expect_str_eq(r.items[0].target, "all");
    cr_expect_str_eq(r.items[1].target, "candidate");
    if (cases[i].want == SC_GATE_FAIL) {
      char names[128];
      sc_gate_breached_names(&r, names, sizeof names);
      cr_expect_str_eq(names, "latency_p99_ratio<=1.2");
      cr_expect_eq(sc_gate_exit_status(r.verdict), 1);
    }
    sc_gate_result_release(&r);
  }
  sc_gate_criterion_release(&c[0]);
  sc_gate_criterion_release(&c[1]);
}

Test(gate, labels_needed_and_missing_metric) {
  struct sc_criterion c[1];
  crit(&c[0], "fpr_delta<=0.02");
  struct sc_gate_result r;
  struct sc_error err;
  cr_assert_eq(sc_gate_eval_criteria(db, 1, -1, &cfg, c, 1, &r, &err), 0, "%s", err.msg);
  cr_assert_eq(r.verdict, SC_GATE_INCONCLUSIVE);
  cr_assert(strstr(r.items[0].reason, "labels"), "%s", r.items[0].reason);
  sc_gate_result_release(&r);
  sc_gate_criterion_release(&c[0]);
}

Test(gate, missing_run) {
  struct sc_gate_result r;
  struct sc_error err;
  cr_assert_eq(sc_gate_eval(db, 42, -1, &cfg, &r, &err), SC_ENOTFOUND);
  sc_gate_result_release(&r);
}

Test(gate, default_criteria_from_config) {
  struct sc_gate_result r;
  struct sc_error err;
  cr_assert_eq(sc_gate_eval(db, 1, -1, &cfg, &r, &err), 0, "%s", err.msg);
  cr_assert_eq(r.n, cfg.n_criteria);
  /* decision metrics are absent from this run: inconclusive, never a pass */
  cr_assert_eq(r.verdict, SC_GATE_INCONCLUSIVE);
  sc_gate_result_release(&r);
}

/* test_report.c - src/report/{model,html,json,junit,md}.c over a results.db
 * filled directly with rows (hostile captured bodies included). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"
#include "store/db.h"

static char dir[64];
static sqlite3 *db;

static void exec(const char *sql) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/sc-test-report.XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof path, "%s/results.db", dir);
  struct sc_error err;
  cr_assert_eq(sc_db_open(&db, path, SC_DB_CREATE, &err), 0, "%s", err.msg);
  exec("INSERT INTO runs (id, traffic_file, mode, fraction, steps, seed, current_url, candidate_url, pacing,"
       " started_at, finished_at, status, requests, capture_exchanges, capture_kernel_drops, capture_stream_gaps,"
       " capture_truncated, capture_unpaired, capture_first_ns, capture_last_ns, aborted_step)"
       " VALUES (7, 'prod-<b>.shdw', 'canary', 0.05, '[0.01,0.05]', 1, 'http://127.0.0.1:1/\"><img src=x onerror=alert(1)>',"
       " 'http://127.0.0.1:2', 'max', '2026-11-22T04:00:00Z', '2026-11-22T04:01:00Z', 'aborted', 40, 40, 0, 0, 0, 0,"
       " 1763784000000000000, 1763784060000000000, 1)");
  exec("INSERT INTO run_targets VALUES (7, 'current', 'http://127.0.0.1:1', 40, 0, 1, 2),"
       " (7, 'candidate', 'http://127.0.0.1:2', 40, 0, 2, 2)");
  for (int i = 1; i <= 40; i++) {
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO exchanges (run_id, seq, exchange_id, step, routed, method, target, req_body)"
             " VALUES (7, %d, %d, %d, 'both', 'POST', '/score?q=<script>alert(1)</script>',"
             " CAST('{\"txn\":\"<script>alert(1)</script>\",\"bad\":\"' || char(0) || X'FF' || '\"}' AS BLOB));"
             "INSERT INTO responses (run_id, seq, target, status, latency_us, body, error) VALUES"
             " (7, %d, 'current', %s, %d, '{\"score\":0.1,\"note\":\"\\\"><img src=x onerror=alert(1)>\"}', %s),"
             " (7, %d, 'candidate', 200, %d, '{\"score\":0.9,\"note\":\"<script>alert(1)</script>\"}', NULL);"
             "INSERT INTO decisions VALUES (7, %d, 'current', %d, NULL, 0.1), (7, %d, 'candidate', 1, NULL, 0.9);"
             "INSERT INTO pair_diffs (run_id, seq, pair, status_match, class, n_diffs, flip, score_delta)"
             " VALUES (7, %d, 'candidate', 1, 'differ', 2, %d, 0.8);"
             "INSERT INTO diffs VALUES (7, %d, 'candidate', '$.items[%d].<i>score', 'changed', '0.1', '0.9');",
             i, i, i <= 20 ? 0 : 1, i, i == 3 ? "NULL" : "200", 1000 + i * 100, i == 3 ? "'timeout'" : "NULL",
             i, 1500 + i * 100, i, i % 2, i, i, i % 2 ? 1 : 0, i, i % 3);
    exec(sql);
  }
  exec("INSERT INTO path_stats (run_id, step, path, n, diff_count, diff_rate, noise_rate, regression)"
       " VALUES (7, NULL, '$.items[*].<i>score', 40, 40, 1.0, 0.0, 1)");
  exec("INSERT INTO metrics (run_id, step, target, name, value, ci_lo, ci_hi, n, mde) VALUES"
       " (7, NULL, 'current', 'positive_rate', 0.5, 0.35, 0.65, 40, NULL),"
       " (7, NULL, 'candidate', 'positive_rate', 1.0, 0.91, 1.0, 40, NULL),"
       " (7, NULL, 'candidate', 'decision_flip_rate', 0.5, 0.35, 0.65, 40, 0.2),"
       " (7, NULL, 'candidate', 'fpr', 0.2, 0.1, 0.3, 40, NULL)");
  exec("INSERT INTO steps VALUES (7, 0, 0.01, NULL, NULL, 20, 'pass', NULL),"
       " (7, 1, 0.05, NULL, NULL, 20, 'fail', 'decision_flip_rate<script>')");
}

static void teardown(void) {
  sc_db_close(db);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

static void fake_gate(struct sc_gate_result *g, struct sc_gate_item *items) {
  sc_gate_result_init(g);
  memset(items, 0, 2 * sizeof *items);
  strcpy(items[0].name, "decision_flip_rate<script>");
  strcpy(items[0].metric, "decision_flip_rate");
  strcpy(items[0].op, "<=");
  items[0].threshold = items[0].effective = 0.05;
  items[0].has_value = 1;
  items[0].value = 0.5;
  items[0].ci_lo = 0.35;
  items[0].ci_hi = 0.65;
  items[0].mde = 0.2;
  items[0].n = 40;
  items[0].status = SC_GATE_FAIL;
  strcpy(items[0].reason, "0.5 [0.35, 0.65] breaches <= 0.05 & \"more\"");
  strcpy(items[1].name, "exchanges");
  strcpy(items[1].metric, "exchanges");
  strcpy(items[1].op, ">=");
  items[1].threshold = items[1].effective = 100;
  items[1].has_value = 1;
  items[1].value = 40;
  items[1].ci_lo = items[1].ci_hi = items[1].mde = 0.0 / 0.0;
  items[1].status = SC_GATE_INCONCLUSIVE;
  strcpy(items[1].reason, "too few");
  g->run_id = 7;
  g->items = items;
  g->n = 2;
  g->verdict = SC_GATE_FAIL;
}

TestSuite(report, .init = setup, .fini = teardown);

Test(report, html_escapes_everything_captured) {
  struct sc_gate_result g;
  struct sc_gate_item items[2];
  fake_gate(&g, items);
  struct sc_report r;
  struct sc_error err;
  sc_error_init(&err);
  cr_assert_eq(sc_report_load(&r, db, 7, &g, &err), 0, "%s", err.msg);
  struct sc_buf out;
  sc_buf_init(&out, SC_REPORT_MAX_BYTES);
  cr_assert_eq(sc_report_html(&r, &out, &err), 0, "%s", err.msg);
  cr_assert_null(strstr(out.p, "<script"), "unescaped script tag");
  cr_assert_null(strstr(out.p, "<img"), "unescaped img tag");
  cr_assert_null(strstr(out.p, "<i>"), "unescaped path markup");
  cr_assert_null(strstr(out.p, "prod-<b>"));
  cr_assert(strstr(out.p, "prod-&lt;b&gt;.shdw"));
  cr_assert(strstr(out.p, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  cr_assert(strstr(out.p, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
  cr_assert(strstr(out.p, "class=\"verdict v-fail\""));
  cr_assert(strstr(out.p, "<svg"), "latency chart missing");
  cr_assert(strstr(out.p, "Progressive canary steps"));
  cr_assert(strstr(out.p, "The run stopped at step 2."));
  cr_assert(strstr(out.p, "Request #"), "no example exchanges");
  cr_assert(strstr(out.p, "timeout"), "errors by kind missing");
  cr_assert(strstr(out.p, "Flip matrix"));
  cr_assert(strstr(out.p, "0.2 (too small)"), "mde column missing");
  cr_assert(strstr(out.p, "steps 1%, 5%"), "steps not formatted");
  cr_assert_null(strstr(out.p, "{{"), "unrendered tag");
  cr_assert_eq(memchr(out.p, '\0', out.len), NULL);
  /* every '<' in the document opens a tag or comment we wrote */
  for (const char *p = strchr(out.p, '<'); p; p = strchr(p + 1, '<'))
    cr_assert(p[1] == '/' || p[1] == '!' || (p[1] >= 'a' && p[1] <= 'z'), "stray '<' at %zu", (size_t)(p - out.p));
  FILE *f = fopen("/tmp/sc-test-report.html", "w");
  if (f) { fwrite(out.p, 1, out.len, f); fclose(f); }
  sc_buf_release(&out);
  sc_report_release(&r);
}

Test(report, json_and_markdown) {
  struct sc_gate_result g;
  struct sc_gate_item items[2];
  fake_gate(&g, items);
  struct sc_report r;
  struct sc_error err;
  cr_assert_eq(sc_report_load(&r, db, 7, &g, &err), 0, "%s", err.msg);
  struct sc_buf out;
  sc_buf_init(&out, SC_REPORT_MAX_BYTES);
  cr_assert_eq(sc_report_json(&r, &out, &err), 0);
  json_error_t je;
  json_t *j = json_loads(out.p, 0, &je);
  cr_assert_not_null(j, "invalid JSON: %s", je.text);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "verdict"), "verdict")), "fail");
  cr_assert_eq(json_array_size(json_object_get(j, "steps")), 2);
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(json_object_get(j, "latency"), 0), "n")), 39);
  json_decref(j);
  sc_buf_reset(&out);
  cr_assert_eq(sc_report_markdown(&r, &out, &err), 0);
  cr_assert(strstr(out.p, "verdict: **fail**"), "%s", out.p);
  cr_assert(strstr(out.p, "| **fail** |"));
  cr_assert(strstr(out.p, "| **inconclusive** |"));
  cr_assert_null(strstr(out.p, "<script"));
  cr_assert_null(strstr(out.p, "<b>"));
  sc_buf_release(&out);
  sc_report_release(&r);
}

Test(report, junit_validates_with_xmllint) {
  struct sc_gate_result g;
  struct sc_gate_item items[2];
  fake_gate(&g, items);
  struct sc_buf out;
  struct sc_error err;
  sc_buf_init(&out, 1 << 20);
  cr_assert_eq(sc_report_junit(&g, "run 7 <x>", &out, &err), 0);
  cr_assert(strstr(out.p, "failures=\"1\""));
  cr_assert(strstr(out.p, "<failure"));
  cr_assert(strstr(out.p, "<skipped"));
  char path[128];
  snprintf(path, sizeof path, "%s/junit.xml", dir);
  cr_assert_eq(sc_report_write_file(path, out.p, out.len, &err), 0, "%s", err.msg);
  if (system("command -v xmllint >/dev/null") == 0) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
    cr_assert_eq(system(cmd), 0, "xmllint rejected the JUnit XML");
  }
  sc_buf_release(&out);
}

Test(report, missing_run_is_not_found) {
  struct sc_report r;
  struct sc_error err;
  cr_assert_eq(sc_report_load(&r, db, 99, NULL, &err), SC_ENOTFOUND);
  sc_report_release(&r);
  cr_assert_eq(sc_report_load(&r, db, 7, NULL, &err), 0);
  struct sc_buf out;
  sc_buf_init(&out, SC_REPORT_MAX_BYTES);
  cr_assert_eq(sc_report_html(&r, &out, &err), 0, "%s", err.msg);
  cr_assert(strstr(out.p, "not evaluated"));
  sc_buf_release(&out);
  sc_report_release(&r);
}

/* test_analyze.c - src/analyze/analyze.c and labels.c on a results database
 * filled directly (scripts/bench/analyze_gen.sql): decisions, flips, noise vs
 * regression paths, FPR with labels, idempotence, steps, canary mode, labels
 * import (CSV quoting, JSON lines, SQL quotes stored verbatim, errors). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "store/db.h"
#include "util/buf.h"

static char dir[64];
static char path[128];
static sqlite3 *db;
static struct sc_config cfg;

static char *slurp(const char *p) {
  FILE *f = fopen(p, "rb");
  cr_assert_not_null(f, "%s", p);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static void fill(int n, double fpr_cand, double lat, int secondary) {
  snprintf(dir, sizeof dir, "/tmp/sc-ta-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/r.db", dir);
  struct sc_error err;
  cr_assert_eq(sc_db_open(&db, path, SC_DB_CREATE, &err), 0, "%s", err.msg);
  char p[256];
  snprintf(p, sizeof p, "CREATE TEMP TABLE p AS SELECT %d AS n, %g AS fpr_cand, %g AS lat_cand, %d AS secondary;",
           n, fpr_cand, lat, secondary);
  cr_assert_eq(sc_db_exec(db, p, "params", &err), 0, "%s", err.msg);
  char *sql = slurp(SC_SOURCE_DIR "/scripts/bench/analyze_gen.sql");
  cr_assert_eq(sc_db_exec(db, sql, "generate", &err), 0, "%s", err.msg);
  free(sql);
  cr_assert_eq(sc_config_init_defaults(&cfg), 0);
}

static void cleanup(void) {
  sc_db_close(db);
  db = NULL;
  sc_config_release(&cfg);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

static int64_t q1(const char *sql) {
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static struct sc_metric M(int step, const char *name, const char *target) {
  struct sc_metric m;
  struct sc_error err;
  cr_assert_eq(sc_metrics_get(db, 1, step, name, target, &m, &err), 0, "%s", err.msg);
  cr_assert(m.found, "metric %s/%s missing", name, target);
  return m;
}

Test(analyze, shadow_run_flips_noise_and_fpr, .fini = cleanup) {
  fill(3000, 0.12, 1.0, 1);
  struct sc_error err;
  cr_assert_eq(sc_analyze_run(db, 1, -1, &cfg, &err), 0, "%s", err.msg);
  /* decisions: one row per response */
  cr_assert_eq(q1("SELECT count(*) FROM decisions WHERE run_id = 1"), 9000);
  /* flips: candidate flags legit requests with u1 in [0.02, 0.12) on top of current's */
  int64_t want = q1("SELECT count(*) FROM exchanges e JOIN responses c ON c.seq = e.seq AND c.target = 'current'"
                    " JOIN responses d ON d.seq = e.seq AND d.target = 'candidate'"
                    " WHERE json_extract(c.body, '$.decision') <> json_extract(d.body, '$.decision')");
  cr_assert_gt(want, 200);
  struct sc_metric f = M(-1, "decision_flip_rate", "candidate");
  cr_assert_float_eq(f.value, (double)want / 3000, 1e-12);
  cr_assert_eq(M(-1, "flips_neg_to_pos", "candidate").value, (double)want);
  cr_assert_eq(M(-1, "flips_pos_to_neg", "candidate").value, 0);
  cr_assert_lt(f.p_value, 1e-10);
  cr_assert(f.ci_lo < f.value && f.value < f.ci_hi);
  /* request_id is noise, score is a regression */
  cr_assert_eq(q1("SELECT noisy FROM path_stats WHERE run_id = 1 AND path = '$.request_id'"), 1);
  cr_assert_eq(q1("SELECT regression FROM path_stats WHERE run_id = 1 AND path = '$.request_id'"), 0);
  cr_assert_eq(q1("SELECT regression FROM path_stats WHERE run_id = 1 AND path = '$.score'"), 1);
  cr_assert_eq(q1("SELECT noisy FROM path_stats WHERE run_id = 1 AND path = '$.score'"), 0);
  cr_assert_eq(M(-1, "regression_paths", "candidate").value, 2); /* score and decision */
  /* diffs are examples, at most 20 per path and pair */
  cr_assert_eq(q1("SELECT count(*) FROM diffs WHERE run_id = 1 AND pair = 'candidate' AND path = '$.score'"), 20);
  /* no labels yet: no fpr */
  struct sc_metric none;
  cr_assert_eq(sc_metrics_get(db, 1, -1, "fpr", "current", &none, &err), 0);
  cr_assert_eq(none.found, 0);
  cr_assert_eq(sc_analyze_has_labels(db, 1), 0);

  /* labels: every 20th request is fraud */
  struct sc_buf csv;
  sc_buf_init(&csv, 1 << 20);
  cr_assert_eq(sc_buf_puts(&csv, "txn_id,label\r\n"), 0);
  for (int i = 1; i <= 3000; i++) cr_assert_eq(sc_buf_printf(&csv, "t%07d,%s\r\n", i, i % 20 ? "legit" : "fraud"), 0);
  struct sc_labels_opts lo = {.format = SC_LABELS_CSV, .key_column = "txn_id", .positive = "fraud"};
  struct sc_labels_result res;
  cr_assert_eq(sc_labels_import_buffer(db, "l.csv", csv.p, csv.len, &lo, &res, &err), 0, "%s", err.msg);
  sc_buf_release(&csv);
  cr_assert_eq(res.rows, 3000);
  cr_assert_eq(res.matched, 3000);
  cr_assert_eq(res.positives, 150);
  cr_assert_eq(sc_analyze_run(db, 1, -1, &cfg, &err), 0, "%s", err.msg);
  struct sc_metric f0 = M(-1, "fpr", "current"), f1 = M(-1, "fpr", "candidate");
  cr_assert(f0.ci_lo <= 0.02 && 0.02 <= f0.ci_hi, "current fpr %g [%g, %g]", f0.value, f0.ci_lo, f0.ci_hi);
  cr_assert(f1.ci_lo <= 0.12 && 0.12 <= f1.ci_hi, "candidate fpr %g [%g, %g]", f1.value, f1.ci_lo, f1.ci_hi);
  cr_assert_eq(f0.n, 2850);
  struct sc_metric d = M(-1, "fpr_delta", "candidate");
  cr_assert(d.ci_lo > 0.05 && d.value > 0.08, "fpr_delta %g [%g, %g]", d.value, d.ci_lo, d.ci_hi);
  cr_assert_float_eq(M(-1, "label_coverage", "all").value, 1.0, 1e-12);
  cr_assert_float_eq(M(-1, "tpr", "current").value, M(-1, "tpr", "candidate").value, 1e-12);

  /* idempotent: the same number of rows after another analysis */
  int64_t nm = q1("SELECT count(*) FROM metrics WHERE run_id = 1"), nd = q1("SELECT count(*) FROM diffs WHERE run_id = 1");
  cr_assert_eq(sc_analyze_run(db, 1, -1, &cfg, &err), 0, "%s", err.msg);
  cr_assert_eq(q1("SELECT count(*) FROM metrics WHERE run_id = 1"), nm);
  cr_assert_eq(q1("SELECT count(*) FROM diffs WHERE run_id = 1"), nd);
}

Test(analyze, ignore_paths_and_latency_regression, .fini = cleanup) {
  fill(2000, 0.02, 1.4, 0);
  const char *y = "diff:\n  ignore: [\"$..request_id\"]\n  tolerances:\n    - {path: \"$.score\", abs: 0.05}\n";
  struct sc_error err;
  cr_assert_eq(sc_config_load_buffer(&cfg, "t", y, strlen(y), &err), 0, "%s", err.msg);
  cr_assert_eq(sc_db_exec(db,
                          "UPDATE responses SET status = NULL, error = 'timeout', body = NULL WHERE target = 'candidate' AND seq <= 3;"
                          "UPDATE responses SET status = 503 WHERE target = 'candidate' AND seq IN (4, 5);"
                          "UPDATE responses SET body_truncated = 1 WHERE target = 'candidate' AND seq = 6;",
                          "errors", &err), 0, "%s", err.msg);
  cr_assert_eq(sc_analyze_run(db, 1, -1, &cfg, &err), 0, "%s", err.msg);
  struct sc_metric ek = M(-1, "errors_by_kind", "candidate");
  cr_assert_eq(ek.value, 5);
  cr_assert_not_null(strstr(ek.detail, "\"timeout\":3"), "%s", ek.detail);
  cr_assert_not_null(strstr(ek.detail, "\"http_5xx\":2"), "%s", ek.detail);
  cr_assert_float_eq(M(-1, "error_rate", "candidate").value, 5.0 / 2000, 1e-12);
  cr_assert_eq(M(-1, "errors_by_kind", "current").value, 0);
  cr_assert_eq(q1("SELECT class = 'too_large' FROM pair_diffs WHERE run_id = 1 AND seq = 6 AND pair = 'candidate'"), 1);
  cr_assert_eq(q1("SELECT class = 'error' FROM pair_diffs WHERE run_id = 1 AND seq = 2 AND pair = 'candidate'"), 1);
  cr_assert_eq(q1("SELECT decision IS NULL FROM decisions WHERE run_id = 1 AND seq = 6 AND target = 'candidate'"), 1);
  struct sc_metric ed = M(-1, "error_rate_delta", "candidate");
  cr_assert_float_eq(ed.value, 5.0 / 2000, 1e-12);
  cr_assert_eq(M(-1, "regression_paths", "candidate").value, 0);
  cr_assert_eq(M(-1, "decision_flip_rate", "candidate").value, 0);
  cr_assert_eq(q1("SELECT count(*) FROM path_stats WHERE run_id = 1"), 0);
  struct sc_metric r = M(-1, "latency_p99_ratio", "candidate");
  cr_assert_float_eq(r.value, 1.4, 1e-4);
  cr_assert(r.ci_lo > 1.3 && r.ci_hi < 1.5, "[%g, %g]", r.ci_lo, r.ci_hi);
  cr_assert_lt(r.p_value, 1e-10);
  cr_assert_float_eq(M(-1, "latency_effect", "candidate").value, 1.0, 1e-12);
}

Test(analyze, steps_and_canary, .fini = cleanup) {
  fill(2000, 0.12, 1.0, 0);
  struct sc_error err;
  /* make it a canary: odd requests went to the candidate only */
  cr_assert_eq(sc_db_exec(db,
                          "UPDATE runs SET mode = 'canary', fraction = 0.5;"
                          "UPDATE exchanges SET step = CASE WHEN seq <= 500 THEN 0 ELSE 1 END,"
                          " routed = CASE WHEN seq % 3 = 1 THEN 'candidate' ELSE 'current' END;"
                          "DELETE FROM responses WHERE (seq % 3 = 1 AND target = 'current') OR (seq % 3 <> 1 AND target = 'candidate');",
                          "canary", &err), 0, "%s", err.msg);
  cr_assert_eq(sc_analyze_run(db, 1, 0, &cfg, &err), 0, "%s", err.msg);
  cr_assert_eq(M(0, "exchanges", "all").value, 500);
  cr_assert_eq(M(0, "exchanges", "candidate").value, 167);
  struct sc_metric fl = M(0, "decision_flip_rate", "candidate");
  cr_assert(isnan(fl.value));
  cr_assert_not_null(strstr(fl.detail, "not_applicable"));
  struct sc_metric pr = M(0, "positive_rate_delta", "candidate");
  cr_assert_gt(pr.value, 0.03);
  cr_assert_not_null(strstr(pr.detail, "\"paired\":false"));
  cr_assert(!isnan(M(0, "latency_p99_ratio", "candidate").value));
  /* step analysis does not touch the whole-run rows, and vice versa */
  cr_assert_eq(sc_analyze_run(db, 1, -1, &cfg, &err), 0, "%s", err.msg);
  cr_assert_eq(M(-1, "exchanges", "all").value, 2000);
  cr_assert_eq(M(0, "exchanges", "all").value, 500);
  cr_assert_eq(sc_analyze_run(db, 1, 1, &cfg, &err), 0, "%s", err.msg);
  cr_assert_eq(M(1, "exchanges", "all").value, 1500);
  cr_assert_eq(q1("PRAGMA cache_size"), -2000); /* the connection's own page cache setting is restored */
  cr_assert_eq(M(-1, "exchanges", "all").value, 2000);
  /* unknown run */
  cr_assert_eq(sc_analyze_run(db, 99, -1, &cfg, &err), SC_ENOTFOUND);
  int64_t id;
  cr_assert_eq(sc_analyze_resolve_run(db, "latest", &id, &err), 0);
  cr_assert_eq(id, 1);
  cr_assert_eq(sc_analyze_resolve_run(db, "x1", &id, &err), SC_EINVAL);
  cr_assert_eq(sc_analyze_resolve_run(db, "7", &id, &err), SC_ENOTFOUND);
}

Test(analyze, slices_flag_the_shifted_country, .fini = cleanup) {
  fill(4000, 0.02, 1.0, 0);
  struct sc_error err;
  /* the candidate flags every legit request from BR */
  cr_assert_eq(sc_db_exec(db,
                          "UPDATE responses SET body = CAST(json_set(CAST(body AS TEXT), '$.score', 0.9, '$.decision', 'fraud') AS BLOB)"
                          " WHERE target = 'candidate' AND seq % 4 = 3;", "plant", &err), 0, "%s", err.msg);
  const char *s = "$.country";
  cr_assert_eq(sc_analyze_run_slices(db, 1, -1, &cfg, &s, 1, &err), 0, "%s", err.msg);
  cr_assert_eq(q1("SELECT significant FROM slices WHERE run_id = 1 AND value = 'BR' AND target = 'candidate'"), 1);
  cr_assert_eq(q1("SELECT count(*) FROM slices WHERE run_id = 1 AND target = 'candidate' AND significant = 1"), 1);
  cr_assert_eq(q1("SELECT n FROM slices WHERE run_id = 1 AND value = 'US' AND target = 'current'"), 1000);
}

static const struct {
  const char *data;
  enum sc_labels_format fmt;
  int rc;
  const char *msg;
} bad[] = {
  {"txn_id,label\n\"t1,fraud\n", SC_LABELS_CSV, SC_EPARSE_CSV, "l:2: unterminated quoted field"},
  {"txn_id,label\nt1,fraud,x\n", SC_LABELS_CSV, SC_EPARSE_CSV, "l:2: expected 2 fields, got 3"},
  {"key,outcome\nt1,fraud\n", SC_LABELS_CSV, SC_EPARSE_CSV, "l:1: no label column 'label'"},
  {"a,label\nt1,fraud\n", SC_LABELS_CSV, SC_EPARSE_CSV, "l:1: no key column"},
  {"txn_id,label\nt1,fr\"aud\n", SC_LABELS_CSV, SC_EPARSE_CSV, "l:2: quote inside an unquoted field"},
  {"txn_id,label\n,fraud\n", SC_LABELS_CSV, SC_EPARSE_CSV, "l:2: empty request key"},
  {"", SC_LABELS_CSV, SC_EPARSE_CSV, "l:1: empty file"},
  {"{\"txn_id\":\"t1\",\"label\":\"fraud\"}\n{\"txn_id\":\"t2\",\"label\":}\n", SC_LABELS_JSONL, SC_EPARSE_JSON, "l:2: "},
  {"{\"txn_id\":\"t1\"}\n", SC_LABELS_JSONL, SC_EPARSE_JSON, "l:1: no label field 'label'"},
  {"\n\n[1]\n", SC_LABELS_JSONL, SC_EPARSE_JSON, "l:3: expected a JSON object"},
};

Test(labels, errors_name_the_line_and_import_nothing, .fini = cleanup) {
  fill(10, 0.02, 1.0, 0);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct sc_labels_opts o = {.format = bad[i].fmt};
    struct sc_labels_result res;
    struct sc_error err;
    sc_error_init(&err);
    int rc = sc_labels_import_buffer(db, "l", bad[i].data, strlen(bad[i].data), &o, &res, &err);
    cr_expect_eq(rc, bad[i].rc, "case %zu: %s", i, err.msg);
    cr_expect_not_null(strstr(err.msg, bad[i].msg), "case %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
  }
  cr_assert_eq(q1("SELECT count(*) FROM labels"), 0);
  cr_assert_eq(q1("SELECT count(*) FROM label_imports"), 0);
}

Test(labels, quoting_and_sql_quotes_verbatim, .fini = cleanup) {
  fill(10, 0.02, 1.0, 0);
  const char *csv =
      "\xef\xbb\xbf" "request_key,label,note\n"
      "t0000001,fraud,plain\n"
      "\"t'; DROP TABLE labels; --\",\"it's \"\"fraud\"\"\",\"multi\nline\"\n"
      "t0000002,legit,\"a,b\"\n"
      "\n"
      "t0000001,legit,replaced\n";
  struct sc_labels_opts o = {0};
  struct sc_labels_result res;
  struct sc_error err;
  cr_assert_eq(sc_labels_import_buffer(db, "x.csv", csv, strlen(csv), &o, &res, &err), 0, "%s", err.msg);
  cr_assert_eq(res.rows, 4);
  cr_assert_eq(res.matched, 3);
  cr_assert_eq(res.unmatched, 1);
  cr_assert_eq(q1("SELECT count(*) FROM labels"), 3);
  cr_assert_eq(q1("SELECT count(*) FROM labels WHERE request_key = 't''; DROP TABLE labels; --'"
                  " AND label = 'it''s \"fraud\"'"), 1);
  cr_assert_eq(q1("SELECT positive FROM labels WHERE request_key = 't0000001'"), 0); /* replaced by the later row */
  const char *jl = "{\"id\":\"t0000003\",\"label\":true}\n{\"id\":4,\"label\":1}\r\n  \n{\"id\":\"q\\\"'\",\"label\":\"x\"}";
  cr_assert_eq(sc_labels_import_buffer(db, "x.jsonl", jl, strlen(jl), &o, &res, &err), 0, "%s", err.msg);
  cr_assert_eq(res.rows, 3);
  cr_assert_eq(res.positives, 2);
  cr_assert_eq(q1("SELECT count(*) FROM labels WHERE request_key = '4' AND positive = 1"), 1);
  cr_assert_eq(q1("SELECT count(*) FROM labels WHERE request_key = 'q\"'''"), 1);
  cr_assert_eq(q1("SELECT count(*) FROM label_imports"), 2);
}

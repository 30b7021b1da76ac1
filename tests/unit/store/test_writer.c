/* test_writer.c - src/store/writer.c: run rows, batching (a batch never
 * splits an exchange from its responses), SQLITE_FULL mid-batch leaves a
 * valid database with every earlier batch, dead runs are reaped. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/db.h"
#include "store/writer.h"

static char path[256];

static sqlite3 *fresh(void) {
  snprintf(path, sizeof path, "/tmp/sc-test-writer-%d-XXXXXX", (int)getpid());
  int fd = mkstemp(path);
  close(fd);
  unlink(path);
  sqlite3 *db = NULL;
  struct sc_error e;
  cr_assert_eq(sc_db_open(&db, path, SC_DB_CREATE, &e), SC_OK, "%s", e.msg);
  return db;
}

static void cleanup(sqlite3 *db) {
  sc_db_close(db);
  char p[300];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
}

static long long q1(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
  long long v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static const struct sc_run_info ri = {
  .traffic_file = "t.shdw", .mode = "shadow", .fraction = 1.0, .current_url = "http://a",
  .candidate_url = "http://b", .pacing = "max", .concurrency = 8, .key_spec = "default",
};

static int add_pair(struct sc_store_writer *w, int64_t seq, size_t body_len, struct sc_error *e) {
  static char body[65536];
  struct sc_store_exchange x = {.seq = seq, .exchange_id = (uint64_t)seq, .routed = "both", .method = "POST",
                                .target = "/v1/score", .request_key = "k'; DROP TABLE runs; --",
                                .recorded_latency_us = -1};
  int rc = sc_store_writer_add_exchange(w, &x, e);
  for (int t = 0; t < 2 && !rc; t++) {
    struct sc_store_response r = {.seq = seq, .target = t ? "candidate" : "current", .status = 200,
                                  .latency_us = 10, .ttfb_us = 5, .skew_us = t ? 1.0 : NAN,
                                  .body = body, .body_stored_len = body_len, .body_len = (int64_t)body_len};
    rc = sc_store_writer_add_response(w, &r, e);
  }
  return rc;
}

Test(writer, batches_commit_whole_exchanges) {
  sqlite3 *db = fresh();
  struct sc_error e;
  int64_t id = 0;
  cr_assert_eq(sc_store_run_begin(db, &ri, &id, &e), SC_OK, "%s", e.msg);
  struct sc_store_writer *w = NULL;
  cr_assert_eq(sc_store_writer_new(&w, db, id, 10, &e), SC_OK);
  /* a second connection sees only committed rows */
  sqlite3 *ro = NULL;
  cr_assert_eq(sc_db_open(&ro, path, SC_DB_READONLY, &e), SC_OK, "%s", e.msg);
  for (int i = 1; i <= 25; i++) cr_assert_eq(add_pair(w, i, 10, &e), SC_OK, "%s", e.msg);
  long long seen = q1(ro, "select count(*) from exchanges");
  cr_assert(seen > 0 && seen < 25, "seen %lld", seen);
  cr_assert_eq(q1(ro, "select count(*) from responses"), 2 * seen);
  cr_assert_eq(sc_store_writer_flush(w, &e), SC_OK);
  cr_assert_eq(q1(ro, "select count(*) from exchanges"), 25);
  cr_assert_eq(q1(ro, "select count(*) from exchanges where request_key='k''; DROP TABLE runs; --'"), 25);
  cr_assert_eq(q1(ro, "select count(*) from responses where target='current' and skew_us is null"), 25);
  cr_assert_eq(q1(ro, "select count(*) from responses where target='candidate' and skew_us=1.0"), 25);
  sc_db_close(ro);
  sc_store_writer_free(w);
  cr_assert_eq(sc_store_run_target(db, id, "current", "http://a", 25, 1, 2, 3, &e), SC_OK);
  cr_assert_eq(sc_store_run_target(db, id, "current", "http://a", 26, 1, 2, 3, &e), SC_OK);
  cr_assert_eq(q1(db, "select sent from run_targets where target='current'"), 26);
  cr_assert_eq(sc_store_run_finish(db, id, "completed", NULL, -1, NULL, &e), SC_OK);
  cr_assert_eq(q1(db, "select requests from runs"), 25);
  cr_assert_eq(q1(db, "select count(*) from runs where status='completed' and finished_at is not null and aborted_step is null"), 1);
  cleanup(db);
}

/* Large rows cut a batch before batch_rows: SC_STORE_BATCH_BYTES bounds what
 * one commit holds (and what a crash or a full disk can lose). */
Test(writer, batches_capped_by_bytes) {
  sqlite3 *db = fresh();
  struct sc_error e;
  int64_t id = 0;
  cr_assert_eq(sc_store_run_begin(db, &ri, &id, &e), SC_OK, "%s", e.msg);
  struct sc_store_writer *w = NULL;
  cr_assert_eq(sc_store_writer_new(&w, db, id, 1000000, &e), SC_OK);
  sqlite3 *ro = NULL;
  cr_assert_eq(sc_db_open(&ro, path, SC_DB_READONLY, &e), SC_OK, "%s", e.msg);
  /* two 32 KiB bodies per exchange: the byte cap falls after ~16 exchanges */
  for (int i = 1; i <= 40; i++) cr_assert_eq(add_pair(w, i, 32768, &e), SC_OK, "%s", e.msg);
  long long seen = q1(ro, "select count(*) from exchanges");
  cr_assert(seen >= 8 && seen <= 32, "seen %lld", seen);
  cr_assert_eq(q1(ro, "select count(*) from responses"), 2 * seen);
  cr_assert_eq(sc_store_writer_flush(w, &e), SC_OK);
  cr_assert_eq(q1(ro, "select count(*) from exchanges"), 40);
  sc_db_close(ro);
  sc_store_writer_free(w);
  cleanup(db);
}

Test(writer, full_database_keeps_earlier_batches) {
  sqlite3 *db = fresh();
  struct sc_error e;
  int64_t id = 0;
  cr_assert_eq(sc_store_run_begin(db, &ri, &id, &e), SC_OK);
  struct sc_store_writer *w = NULL;
  cr_assert_eq(sc_store_writer_new(&w, db, id, 4, &e), SC_OK);
  long long pages = q1(db, "pragma page_count");
  char sql[64];
  snprintf(sql, sizeof sql, "pragma max_page_count=%lld", pages + 40);
  cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  int rc = SC_OK;
  int i;
  for (i = 1; i <= 1000 && !rc; i++) rc = add_pair(w, i, 8000, &e);
  if (!rc) rc = sc_store_writer_flush(w, &e);
  cr_assert_eq(rc, SC_ENOSPC, "rc %d: %s", rc, e.msg);
  cr_assert(strstr(e.msg, "full"), "%s", e.msg);
  sc_store_writer_free(w);
  long long n = q1(db, "select count(*) from exchanges");
  cr_assert(n > 0 && n < i, "kept %lld", n);
  cr_assert_eq(q1(db, "select count(*) from responses"), 2 * n);
  sc_db_close(db);
  sqlite3 *again = NULL;
  cr_assert_eq(sc_db_open(&again, path, 0, &e), SC_OK, "%s", e.msg);
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(again, "pragma integrity_check", -1, &st, NULL);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  cleanup(again);
}

Test(writer, dead_runs_are_reaped) {
  sqlite3 *db = fresh();
  struct sc_error e;
  int64_t id = 0;
  cr_assert_eq(sc_store_run_begin(db, &ri, &id, &e), SC_OK);
  /* a child that exits: its pid is dead afterwards */
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, NULL, 0);
  char sql[128];
  snprintf(sql, sizeof sql, "update runs set pid=%d where id=%lld", (int)child, (long long)id);
  cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  int64_t live = 0;
  cr_assert_eq(sc_store_run_begin(db, &ri, &live, &e), SC_OK); /* our own pid: alive */
  int n = -1;
  cr_assert_eq(sc_store_reap_dead_runs(db, &n, &e), SC_OK, "%s", e.msg);
  cr_assert_eq(n, 1);
  cr_assert_eq(q1(db, "select count(*) from runs where status='interrupted'"), 1);
  snprintf(sql, sizeof sql, "select count(*) from runs where status='running' and id=%lld", (long long)live);
  cr_assert_eq(q1(db, sql), 1);
  cleanup(db);
}

Test(writer, steps_rows) {
  sqlite3 *db = fresh();
  struct sc_error e;
  int64_t id = 0;
  cr_assert_eq(sc_store_run_begin(db, &ri, &id, &e), SC_OK);
  cr_assert_eq(sc_store_step_begin(db, id, 0, 0.01, &e), SC_OK);
  cr_assert_eq(sc_store_step_end(db, id, 0, 123, "pass", &e), SC_OK);
  cr_assert_eq(sc_store_step_begin(db, id, 1, 0.05, &e), SC_OK);
  cr_assert_eq(q1(db, "select exchanges from steps where step=0 and verdict='pass' and finished_at is not null"), 123);
  cr_assert_eq(q1(db, "select count(*) from steps where step=1 and finished_at is null"), 1);
  cleanup(db);
}

/* Rows are staged and inserted many at a time: every field of every row must
 * come back as given (NULLs included), whatever the mix of exchanges and
 * responses per batch and however the multi-row statements are cut. */
Test(writer, staged_rows_keep_every_field) {
  sqlite3 *db = fresh();
  struct sc_error e;
  int64_t id = 0;
  cr_assert_eq(sc_store_run_begin(db, &ri, &id, &e), SC_OK, "%s", e.msg);
  struct sc_store_writer *w = NULL;
  cr_assert_eq(sc_store_writer_new(&w, db, id, 97, &e), SC_OK, "%s", e.msg);
  static const char *const tn[] = {"current", "candidate", "secondary"};
  int total_r = 0;
  for (int i = 1; i <= 150; i++) {
    char key[32], body[64], hj[64];
    snprintf(key, sizeof key, "key-%d", i);
    snprintf(body, sizeof body, "{\"n\":%d}", i);
    snprintf(hj, sizeof hj, "[[\"X-N\",\"%d\"]]", i);
    struct sc_store_exchange x = {.seq = i, .exchange_id = (uint64_t)(1000 + i), .step = i % 3,
                                  .request_key = i % 5 ? key : NULL, .key_hash = (uint64_t)i * 7,
                                  .routed = "both", .method = "POST", .target = "/t",
                                  .req_headers_json = i % 4 ? hj : NULL, .req_body = i % 6 ? body : NULL,
                                  .req_body_len = strlen(body), .recorded_status = i % 7 ? 200 : 0,
                                  .recorded_latency_us = i % 8 ? i * 1.5 : -1, .intended_ns = i * 10};
    cr_assert_eq(sc_store_writer_add_exchange(w, &x, &e), SC_OK, "%s", e.msg);
    int nr = 1 + i % 3; /* 1 to 3 answers: the two kinds fill at different paces */
    for (int t = 0; t < nr; t++) {
      int err_row = (i + t) % 9 == 0;
      struct sc_store_response r = {.seq = i, .target = tn[t], .status = err_row ? 0 : 200 + t,
                                    .error = err_row ? "timeout" : NULL, .latency_us = i + t,
                                    .ttfb_us = err_row ? -1 : t, .sent_ns = i * 100 + t,
                                    .skew_us = t ? (double)t : NAN, .headers_json = err_row ? NULL : hj,
                                    .body = err_row ? NULL : body, .body_stored_len = strlen(body),
                                    .body_len = (int64_t)strlen(body) + t, .body_hash = err_row ? NULL : "00ff",
                                    .body_truncated = t == 2, .content_type = t == 1 ? "application/json" : NULL};
      cr_assert_eq(sc_store_writer_add_response(w, &r, &e), SC_OK, "%s", e.msg);
      total_r++;
    }
  }
  cr_assert_eq(sc_store_writer_flush(w, &e), SC_OK, "%s", e.msg);
  cr_assert_eq(sc_store_writer_committed_exchanges(w), 150);
  cr_assert_eq(q1(db, "pragma foreign_keys"), 0); /* the writer keeps the keys itself */
  sc_store_writer_free(w);
  cr_assert_eq(q1(db, "pragma foreign_keys"), 1); /* and gives the checks back */
  cr_assert_eq(q1(db, "select count(*) from pragma_foreign_key_check"), 0);
  cr_assert_eq(q1(db, "select count(*) from exchanges"), 150);
  cr_assert_eq(q1(db, "select count(*) from responses"), total_r);
  /* field by field, recomputed in SQL from seq */
  cr_assert_eq(q1(db, "select count(*) from exchanges where exchange_id = 1000 + seq and step = seq % 3"
                      " and key_hash = seq * 7 and intended_ns = seq * 10 and routed = 'both'"
                      " and method = 'POST' and target = '/t'"), 150);
  cr_assert_eq(q1(db, "select count(*) from exchanges where (request_key is null) = (seq % 5 = 0)"
                      " and (request_key is null or request_key = 'key-' || seq)"), 150);
  cr_assert_eq(q1(db, "select count(*) from exchanges where (req_headers is null) = (seq % 4 = 0)"
                      " and (req_headers is null or req_headers = '[[\"X-N\",\"' || seq || '\"]]')"), 150);
  cr_assert_eq(q1(db, "select count(*) from exchanges where (req_body is null) = (seq % 6 = 0)"
                      " and (req_body is null or (typeof(req_body) = 'blob' and cast(req_body as text) = '{\"n\":' || seq || '}'))"), 150);
  cr_assert_eq(q1(db, "select count(*) from exchanges where (recorded_status is null) = (seq % 7 = 0)"
                      " and (recorded_latency_us is null) = (seq % 8 = 0)"
                      " and (recorded_latency_us is null or recorded_latency_us = seq * 1.5)"), 150);
  cr_assert_eq(q1(db, "select count(*) from responses r join exchanges x using (run_id, seq) where"
                      " ((r.seq + (r.target <> 'current') + (r.target = 'secondary')) % 9 = 0) = (r.error is not null)"),
               total_r);
  cr_assert_eq(q1(db, "select count(*) from responses where error is null and status = 200 + (target <> 'current') + (target = 'secondary')"
                      " and cast(body as text) = '{\"n\":' || seq || '}' and body_hash = '00ff'"
                      " and headers = '[[\"X-N\",\"' || seq || '\"]]'"),
               q1(db, "select count(*) from responses where error is null"));
  cr_assert_eq(q1(db, "select count(*) from responses where error = 'timeout' and status is null and body is null"
                      " and headers is null and body_hash is null and ttfb_us is null"),
               q1(db, "select count(*) from responses where error is not null"));
  cr_assert(q1(db, "select count(*) from responses where error is not null") > 10);
  cr_assert_eq(q1(db, "select count(*) from responses where (skew_us is null) = (target = 'current')"
                      " and (content_type is null) = (target <> 'candidate') and body_truncated = (target = 'secondary')"
                      " and sent_ns = seq * 100 + (target <> 'current') + (target = 'secondary')"),
               total_r);
  cleanup(db);
}

/* A row SQLite refuses (here a duplicate key) fails the batch it is in, as a
 * whole, staged rows included; earlier batches stay, and the writer goes on. */
Test(writer, refused_row_rolls_back_its_batch_only) {
  sqlite3 *db = fresh();
  struct sc_error e;
  int64_t id = 0;
  cr_assert_eq(sc_store_run_begin(db, &ri, &id, &e), SC_OK, "%s", e.msg);
  struct sc_store_writer *w = NULL;
  cr_assert_eq(sc_store_writer_new(&w, db, id, 30, &e), SC_OK, "%s", e.msg);
  int i;
  for (i = 1; i <= 20; i++) cr_assert_eq(add_pair(w, i, 10, &e), SC_OK, "%s", e.msg);
  cr_assert_eq(sc_store_writer_flush(w, &e), SC_OK, "%s", e.msg);
  for (i = 21; i <= 25; i++) cr_assert_eq(add_pair(w, i, 10, &e), SC_OK, "%s", e.msg);
  int rc = add_pair(w, 3, 10, &e); /* seq 3 again */
  if (!rc) rc = sc_store_writer_flush(w, &e);
  cr_assert_neq(rc, SC_OK);
  cr_assert(strstr(e.msg, "cannot store"), "%s", e.msg);
  cr_assert_eq(q1(db, "select count(*) from exchanges"), 20);
  cr_assert_eq(q1(db, "select count(*) from responses"), 40);
  cr_assert_eq(add_pair(w, 26, 10, &e), SC_OK, "%s", e.msg);
  cr_assert_eq(sc_store_writer_flush(w, &e), SC_OK, "%s", e.msg);
  cr_assert_eq(q1(db, "select max(seq) from exchanges"), 26);
  cr_assert_eq(q1(db, "select count(*) from responses where seq = 26"), 2);
  sc_store_writer_free(w);
  cleanup(db);
}

/* The two indexes older databases had are dropped on open (each cost a
 * b-tree insert per replayed row); new files get 16 KiB pages. */
Test(writer, old_indexes_dropped_on_open) {
  sqlite3 *db = fresh();
  cr_assert_eq(q1(db, "pragma page_size"), 16384);
  cr_assert_eq(sqlite3_exec(db, "CREATE INDEX responses_by_target ON responses(run_id, target);"
                                "CREATE INDEX exchanges_by_key ON exchanges(request_key);", NULL, NULL, NULL),
               SQLITE_OK);
  cr_assert_eq(q1(db, "select count(*) from sqlite_master where type = 'index' and name in"
                      " ('responses_by_target', 'exchanges_by_key')"), 2);
  sc_db_close(db);
  struct sc_error e;
  sqlite3 *again = NULL;
  cr_assert_eq(sc_db_open(&again, path, 0, &e), SC_OK, "%s", e.msg);
  cr_assert_eq(q1(again, "select count(*) from sqlite_master where type = 'index' and name in"
                         " ('responses_by_target', 'exchanges_by_key')"), 0);
  cleanup(again);
}

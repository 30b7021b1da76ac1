/*
 * writer.c - results database writer: runs, run_targets, steps and the
 * batched exchanges/responses writer. Stage: store.
 * Reference: schemas/results.sql, writer.h.
 *
 * Invariants:
 *   1. Every statement is prepared; captured bytes are bound, never pasted.
 *   2. w->in_txn is 1 exactly while a BEGIN of this writer is open.
 *   3. A failed step rolls the open batch back, so the file only ever holds
 *      whole batches (each exchange with all its responses when the caller
 *      adds them together).
 */
#define _POSIX_C_SOURCE 200809L
#include "store/writer.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "store/db.h"
#include "util/buf.h"
#include "util/clock.h"

static void now_iso(char *out, unsigned n) { sc_fmt_time_iso(sc_clock_real_ns(), out, n); }

/* SQLITE_STATIC: every statement here is stepped, reset and cleared before
 * the function that bound it returns, so the caller's strings outlive every
 * use (no copy per bound string). */
static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s) {
  if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no rows; resets it. */
static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *what, struct sc_error *err) {
  int rc = sqlite3_step(st);
  int ret = SC_OK;
  if (rc != SQLITE_DONE) ret = sc_db_err(db, what, err);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return ret;
}

static int exec1(sqlite3 *db, const char *sql, sqlite3_stmt **out, struct sc_error *err) {
  return sc_db_prepare(db, out, sql, err);
}

int sc_store_run_begin(sqlite3 *db, const struct sc_run_info *ri, int64_t *run_id,
                       struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = exec1(db,
                 "INSERT INTO runs (traffic_file, mode, fraction, steps, seed, key_spec, current_url,"
                 " candidate_url, secondary_url, pacing, concurrency, config_json, argv, host, pid,"
                 " started_at, status) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,"
                 "'running')",
                 &st, err);
  if (rc) return rc;
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  char ts[40];
  now_iso(ts, sizeof ts);
  bind_text_or_null(st, 1, ri->traffic_file ? ri->traffic_file : "");
  bind_text_or_null(st, 2, ri->mode);
  sqlite3_bind_double(st, 3, ri->fraction);
  bind_text_or_null(st, 4, ri->steps_json);
  sqlite3_bind_int64(st, 5, (sqlite3_int64)ri->seed);
  bind_text_or_null(st, 6, ri->key_spec);
  bind_text_or_null(st, 7, ri->current_url ? ri->current_url : "");
  bind_text_or_null(st, 8, ri->candidate_url);
  bind_text_or_null(st, 9, ri->secondary_url);
  bind_text_or_null(st, 10, ri->pacing ? ri->pacing : "max");
  sqlite3_bind_int64(st, 11, ri->concurrency);
  bind_text_or_null(st, 12, ri->config_json);
  bind_text_or_null(st, 13, ri->argv);
  bind_text_or_null(st, 14, host[0] ? host : NULL);
  sqlite3_bind_int64(st, 15, (sqlite3_int64)getpid());
  bind_text_or_null(st, 16, ts);
  rc = step_done(db, st, "cannot record run", err);
  if (!rc) *run_id = sqlite3_last_insert_rowid(db);
  sqlite3_finalize(st);
  return rc;
}

int sc_store_run_capture(sqlite3 *db, int64_t run_id, const struct sc_run_capture *c,
                         struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = exec1(db,
                 "UPDATE runs SET capture_exchanges=?2, capture_kernel_drops=?3, capture_stream_gaps=?4,"
                 " capture_truncated=?5, capture_unpaired=?6, capture_first_ns=?7, capture_last_ns=?8"
                 " WHERE id=?1",
                 &st, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_int64(st, 2, c->exchanges);
  sqlite3_bind_int64(st, 3, c->kernel_drops);
  sqlite3_bind_int64(st, 4, c->stream_gaps);
  sqlite3_bind_int64(st, 5, c->truncated);
  sqlite3_bind_int64(st, 6, c->unpaired);
  sqlite3_bind_int64(st, 7, c->first_ns);
  sqlite3_bind_int64(st, 8, c->last_ns);
  rc = step_done(db, st, "cannot record capture statistics", err);
  sqlite3_finalize(st);
  return rc;
}

int sc_store_run_finish(sqlite3 *db, int64_t run_id, const char *status, const char *reason,
                        int aborted_step, const char *traffic_error, struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = exec1(db,
                 "UPDATE runs SET status=?2, status_reason=?3, aborted_step=?4, traffic_error=?5,"
                 " finished_at=?6, requests=(SELECT COUNT(*) FROM exchanges WHERE run_id=?1)"
                 " WHERE id=?1",
                 &st, err);
  if (rc) return rc;
  char ts[40];
  now_iso(ts, sizeof ts);
  sqlite3_bind_int64(st, 1, run_id);
  bind_text_or_null(st, 2, status);
  bind_text_or_null(st, 3, reason);
  if (aborted_step >= 0) sqlite3_bind_int(st, 4, aborted_step);
  else sqlite3_bind_null(st, 4);
  bind_text_or_null(st, 5, traffic_error);
  bind_text_or_null(st, 6, ts);
  rc = step_done(db, st, "cannot record run status", err);
  sqlite3_finalize(st);
  return rc;
}

int sc_store_run_target(sqlite3 *db, int64_t run_id, const char *target, const char *url,
                        int64_t sent, int64_t shed, int64_t errors, int64_t conns,
                        struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = exec1(db,
                 "INSERT INTO run_targets (run_id, target, url, sent, shed, errors, connections_opened)"
                 " VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(run_id, target) DO UPDATE SET"
                 " url=excluded.url, sent=excluded.sent, shed=excluded.shed, errors=excluded.errors,"
                 " connections_opened=excluded.connections_opened",
                 &st, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, run_id);
  bind_text_or_null(st, 2, target);
  bind_text_or_null(st, 3, url);
  sqlite3_bind_int64(st, 4, sent);
  sqlite3_bind_int64(st, 5, shed);
  sqlite3_bind_int64(st, 6, errors);
  sqlite3_bind_int64(st, 7, conns);
  rc = step_done(db, st, "cannot record target counters", err);
  sqlite3_finalize(st);
  return rc;
}

int sc_store_step_begin(sqlite3 *db, int64_t run_id, int step, double fraction,
                        struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = exec1(db, "INSERT OR REPLACE INTO steps (run_id, step, fraction, started_at) VALUES (?1,?2,?3,?4)",
                 &st, err);
  if (rc) return rc;
  char ts[40];
  now_iso(ts, sizeof ts);
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_int(st, 2, step);
  sqlite3_bind_double(st, 3, fraction);
  bind_text_or_null(st, 4, ts);
  rc = step_done(db, st, "cannot record step", err);
  sqlite3_finalize(st);
  return rc;
}

int sc_store_step_end(sqlite3 *db, int64_t run_id, int step, int64_t exchanges,
                      const char *verdict, struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = exec1(db, "UPDATE steps SET finished_at=?3, exchanges=?4, verdict=?5 WHERE run_id=?1 AND step=?2",
                 &st, err);
  if (rc) return rc;
  char ts[40];
  now_iso(ts, sizeof ts);
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_int(st, 2, step);
  bind_text_or_null(st, 3, ts);
  sqlite3_bind_int64(st, 4, exchanges);
  bind_text_or_null(st, 5, verdict);
  rc = step_done(db, st, "cannot record step", err);
  sqlite3_finalize(st);
  return rc;
}

int sc_store_reap_dead_runs(sqlite3 *db, int *n, struct sc_error *err) {
  sqlite3_stmt *sel = NULL, *upd = NULL;
  *n = 0;
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  int rc = exec1(db, "SELECT id, pid FROM runs WHERE status='running' AND host IS ?1", &sel, err);
  if (!rc)
    rc = exec1(db,
               "UPDATE runs SET status='interrupted', status_reason='process died (killed or crashed)',"
               " requests=(SELECT COUNT(*) FROM exchanges WHERE run_id=?1) WHERE id=?1 AND status='running'",
               &upd, err);
  if (rc) goto out;
  bind_text_or_null(sel, 1, host[0] ? host : NULL);
  int s;
  while ((s = sqlite3_step(sel)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(sel, 0);
    int64_t pid = sqlite3_column_int64(sel, 1);
    if (pid <= 0 || pid == (int64_t)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours to probe) */
    sqlite3_bind_int64(upd, 1, id);
    rc = step_done(db, upd, "cannot mark dead run", err);
    if (rc) goto out;
    (*n)++;
  }
  if (s != SQLITE_DONE) rc = sc_db_err(db, "cannot list runs", err);
out:
  sqlite3_finalize(sel);
  sqlite3_finalize(upd);
  return rc;
}

/* ---- batched writer ----
 *
 * Rows are staged (copied into w->stage) and inserted SC_STORE_MULTI at a
 * time by one multi-row INSERT: SQLite then opens the table's cursors, seeks
 * and closes once per statement instead of once per row, which took the
 * per-exchange cost of storing a replayed exchange and its answer from about
 * 7.5 us to 5 us of CPU (measured with a stand-alone loop over the schema).
 * Staged exchanges always go in before staged responses (their foreign key),
 * every staged row goes in before a commit, and a failed insert rolls the
 * whole open batch back, staged rows included (invariant 3 holds). A
 * statement for each row count is prepared on first use.
 *
 * The inserts are INSERT OR ROLLBACK, and the connection checks no foreign
 * key while the writer lives: a multi-row statement that may fail half-way
 * needs a statement journal (every page it touches copied to a temporary
 * file first, 20k small writes per 50k exchanges), unless a failure ends the
 * whole transaction, which is what the writer does anyway. The writer itself
 * keeps the keys right: exchanges go in before their responses, and the run
 * row exists before either. Together: 8.3 us -> 3.5 us of CPU per exchange
 * and answer, down from over 10 us with the two indexes. */

#define SC_STORE_MULTI 32

struct span {          /* bytes staged in w->stage; set == 0 -> NULL */
  size_t off, len;
  int set;
};

struct staged_x {
  int64_t seq;
  uint64_t exchange_id, key_hash;
  int step, recorded_status;
  double recorded_latency_us;
  int64_t intended_ns;
  struct span key, routed, method, target, hjson, body;
};

struct staged_r {
  int64_t seq, sent_ns, body_len;
  int status, body_truncated;
  double latency_us, ttfb_us, skew_us;
  struct span target, error, hjson, body, hash, ctype;
};

struct sc_store_writer {
  sqlite3 *db;
  int64_t run_id;
  unsigned batch_rows;
  unsigned pending;      /* rows in the open transaction, staged ones included */
  size_t pending_bytes;  /* their estimated size (SC_STORE_BATCH_BYTES) */
  uint64_t committed;
  unsigned pending_x;    /* exchange rows in the open transaction */
  uint64_t committed_x;
  int in_txn;            /* invariant 2 */
  sqlite3_stmt *begin, *commit, *rollback;
  sqlite3_stmt *ins_x[SC_STORE_MULTI + 1], *ins_r[SC_STORE_MULTI + 1]; /* by row count */
  struct staged_x sx[SC_STORE_MULTI];
  struct staged_r sr[SC_STORE_MULTI];
  unsigned nsx, nsr;
  struct sc_buf stage;   /* bytes of the staged rows */
};

static const char ins_x_head[] =
    "INSERT OR ROLLBACK INTO exchanges (run_id, seq, exchange_id, step, request_key, key_hash, routed, method, target,"
    " req_headers, req_body, recorded_status, recorded_latency_us, intended_ns) VALUES ";
static const char ins_x_row[] = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
enum { INS_X_COLS = 14 };
static const char ins_r_head[] =
    "INSERT OR ROLLBACK INTO responses (run_id, seq, target, status, error, latency_us, ttfb_us, sent_ns, skew_us,"
    " headers, body, body_len, body_hash, body_truncated, content_type) VALUES ";
static const char ins_r_row[] = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
enum { INS_R_COLS = 15 };

/* The INSERT of n rows (prepared on first use). */
static int ins_stmt(struct sc_store_writer *w, sqlite3_stmt **cache, const char *head, const char *row,
                    unsigned n, sqlite3_stmt **out, struct sc_error *err) {
  if (!cache[n]) {
    struct sc_buf sql;
    sc_buf_init(&sql, 1u << 20);
    int rc = sc_buf_puts(&sql, head);
    for (unsigned i = 0; i < n && !rc; i++) {
      if (i) rc = sc_buf_putc(&sql, ',');
      if (!rc) rc = sc_buf_puts(&sql, row);
    }
    if (rc) {
      sc_buf_release(&sql);
      return sc_error_set(err, SC_ENOMEM, "out of memory");
    }
    rc = sc_db_prepare(w->db, &cache[n], sql.p, err);
    sc_buf_release(&sql);
    if (rc) return rc;
  }
  *out = cache[n];
  return SC_OK;
}

int sc_store_writer_new(struct sc_store_writer **out, sqlite3 *db, int64_t run_id,
                        unsigned batch_rows, struct sc_error *err) {
  *out = NULL;
  struct sc_store_writer *w = calloc(1, sizeof *w);
  if (!w) return sc_error_set(err, SC_ENOMEM, "out of memory");
  w->db = db;
  w->run_id = run_id;
  w->batch_rows = batch_rows ? batch_rows : 1;
  sc_buf_init(&w->stage, SIZE_MAX / 2);
  /* Bulk writing: a page cache of 8 MiB instead of SQLite's 2 MiB holds the
   * pages a batch dirties, and the WAL is checkpointed every 32 MiB instead
   * of every 1000 pages, so a page rewritten by successive batches is copied
   * into the database once per checkpoint rather than once per batch. The
   * connection keeps both. */
  int page = 4096;
  sqlite3_stmt *ps = NULL;
  int rc = sc_db_prepare(db, &ps, "PRAGMA page_size", err);
  if (!rc && sqlite3_step(ps) == SQLITE_ROW && sqlite3_column_int(ps, 0) > 0) page = sqlite3_column_int(ps, 0);
  sqlite3_finalize(ps);
  char sql[128];
  snprintf(sql, sizeof sql, "PRAGMA cache_size=-8192; PRAGMA wal_autocheckpoint=%d; PRAGMA foreign_keys=OFF",
           (32 << 20) / page);
  if (!rc) rc = sc_db_exec(db, sql, "cannot configure database", err);
  sqlite3_stmt *unused;
  if (!rc) rc = ins_stmt(w, w->ins_x, ins_x_head, ins_x_row, 1, &unused, err);
  if (!rc) rc = ins_stmt(w, w->ins_r, ins_r_head, ins_r_row, 1, &unused, err);
  if (!rc) rc = ins_stmt(w, w->ins_x, ins_x_head, ins_x_row, SC_STORE_MULTI, &unused, err);
  if (!rc) rc = ins_stmt(w, w->ins_r, ins_r_head, ins_r_row, SC_STORE_MULTI, &unused, err);
  if (!rc) rc = sc_db_prepare(db, &w->begin, "BEGIN", err);
  if (!rc) rc = sc_db_prepare(db, &w->commit, "COMMIT", err);
  if (!rc) rc = sc_db_prepare(db, &w->rollback, "ROLLBACK", err);
  if (rc) {
    sc_store_writer_free(w);
    return rc;
  }
  *out = w;
  return SC_OK;
}

static void unstage(struct sc_store_writer *w) {
  w->nsx = w->nsr = 0;
  sc_buf_reset(&w->stage);
}

static void wrollback(struct sc_store_writer *w) {
  unstage(w);
  if (!w->in_txn) return;
  sqlite3_step(w->rollback);
  sqlite3_reset(w->rollback);
  w->in_txn = 0;
  w->pending = 0;
  w->pending_bytes = 0;
  w->pending_x = 0;
}

static int wbegin(struct sc_store_writer *w, struct sc_error *err) {
  if (w->in_txn) return SC_OK;
  int rc = step_done(w->db, w->begin, "cannot begin transaction", err);
  if (!rc) w->in_txn = 1;
  return rc;
}

static int stage(struct sc_store_writer *w, struct span *sp, const void *p, size_t n) {
  sp->set = p != NULL;
  sp->off = w->stage.len;
  sp->len = p ? n : 0;
  return p && n ? sc_buf_append(&w->stage, p, n) : SC_OK;
}

static int stage_str(struct sc_store_writer *w, struct span *sp, const char *s) {
  return stage(w, sp, s, s ? strlen(s) : 0);
}

/* Binds a staged span (the stage is not touched until the statement ran). */
static void bind_span(struct sc_store_writer *w, sqlite3_stmt *st, int i, const struct span *sp, int blob) {
  if (!sp->set) sqlite3_bind_null(st, i);
  else if (blob) sqlite3_bind_blob64(st, i, w->stage.p ? w->stage.p + sp->off : "", sp->len, SQLITE_STATIC);
  else sqlite3_bind_text64(st, i, w->stage.p ? w->stage.p + sp->off : "", sp->len, SQLITE_STATIC, SQLITE_UTF8);
}

/* Inserts every staged row (exchanges first), one statement per kind: the
 * adders drain before either kind passes SC_STORE_MULTI rows. The stage is
 * empty afterwards; on failure the open batch is rolled back. */
static int drain(struct sc_store_writer *w, struct sc_error *err) {
  int rc = SC_OK;
  if (w->nsx) {
    sqlite3_stmt *st = NULL;
    rc = ins_stmt(w, w->ins_x, ins_x_head, ins_x_row, w->nsx, &st, err);
    for (unsigned k = 0; k < w->nsx && !rc; k++) {
      const struct staged_x *x = &w->sx[k];
      int b = (int)k * INS_X_COLS;
      sqlite3_bind_int64(st, b + 1, w->run_id);
      sqlite3_bind_int64(st, b + 2, x->seq);
      sqlite3_bind_int64(st, b + 3, (sqlite3_int64)x->exchange_id);
      sqlite3_bind_int(st, b + 4, x->step);
      bind_span(w, st, b + 5, &x->key, 0);
      sqlite3_bind_int64(st, b + 6, (sqlite3_int64)x->key_hash);
      bind_span(w, st, b + 7, &x->routed, 0);
      bind_span(w, st, b + 8, &x->method, 0);
      bind_span(w, st, b + 9, &x->target, 0);
      bind_span(w, st, b + 10, &x->hjson, 0);
      bind_span(w, st, b + 11, &x->body, 1);
      if (x->recorded_status > 0) sqlite3_bind_int(st, b + 12, x->recorded_status);
      else sqlite3_bind_null(st, b + 12);
      if (x->recorded_latency_us >= 0) sqlite3_bind_double(st, b + 13, x->recorded_latency_us);
      else sqlite3_bind_null(st, b + 13);
      sqlite3_bind_int64(st, b + 14, x->intended_ns);
    }
    if (!rc) rc = step_done(w->db, st, "cannot store exchange", err);
  }
  if (w->nsr && !rc) {
    sqlite3_stmt *st = NULL;
    rc = ins_stmt(w, w->ins_r, ins_r_head, ins_r_row, w->nsr, &st, err);
    for (unsigned k = 0; k < w->nsr && !rc; k++) {
      const struct staged_r *r = &w->sr[k];
      int b = (int)k * INS_R_COLS;
      sqlite3_bind_int64(st, b + 1, w->run_id);
      sqlite3_bind_int64(st, b + 2, r->seq);
      bind_span(w, st, b + 3, &r->target, 0);
      if (r->status > 0) sqlite3_bind_int(st, b + 4, r->status);
      else sqlite3_bind_null(st, b + 4);
      bind_span(w, st, b + 5, &r->error, 0);
      if (r->latency_us >= 0) sqlite3_bind_double(st, b + 6, r->latency_us);
      else sqlite3_bind_null(st, b + 6);
      if (r->ttfb_us >= 0) sqlite3_bind_double(st, b + 7, r->ttfb_us);
      else sqlite3_bind_null(st, b + 7);
      sqlite3_bind_int64(st, b + 8, r->sent_ns);
      if (!isnan(r->skew_us)) sqlite3_bind_double(st, b + 9, r->skew_us);
      else sqlite3_bind_null(st, b + 9);
      bind_span(w, st, b + 10, &r->hjson, 0);
      bind_span(w, st, b + 11, &r->body, 1);
      sqlite3_bind_int64(st, b + 12, r->body_len);
      bind_span(w, st, b + 13, &r->hash, 0);
      sqlite3_bind_int(st, b + 14, r->body_truncated ? 1 : 0);
      bind_span(w, st, b + 15, &r->ctype, 0);
    }
    if (!rc) rc = step_done(w->db, st, "cannot store response", err);
  }
  if (rc) wrollback(w);
  else unstage(w);
  return rc;
}

int sc_store_writer_flush(struct sc_store_writer *w, struct sc_error *err) {
  if (!w->in_txn) return SC_OK;
  int rc = drain(w, err);
  if (rc) return rc;
  rc = step_done(w->db, w->commit, "cannot commit results", err);
  if (rc) {
    wrollback(w);
    return rc;
  }
  w->in_txn = 0;
  w->committed += w->pending;
  w->committed_x += w->pending_x;
  w->pending = 0;
  w->pending_bytes = 0;
  w->pending_x = 0;
  return SC_OK;
}

/* Batches are cut only before an exchange row (never between an exchange and
 * its responses), see invariant 3. */
static void after_row(struct sc_store_writer *w, size_t blob_bytes) {
  w->pending++;
  w->pending_bytes += SC_STORE_ROW_OVERHEAD + blob_bytes;
}

static int stage_failed(struct sc_store_writer *w, struct sc_error *err) {
  wrollback(w);
  return sc_error_set(err, SC_ENOMEM, "out of memory");
}

int sc_store_writer_add_exchange(struct sc_store_writer *w, const struct sc_store_exchange *x,
                                 struct sc_error *err) {
  int rc = SC_OK;
  if (w->pending >= w->batch_rows || w->pending_bytes >= SC_STORE_BATCH_BYTES) rc = sc_store_writer_flush(w, err);
  if (!rc && w->nsx == SC_STORE_MULTI) rc = drain(w, err);
  if (!rc) rc = wbegin(w, err);
  if (rc) return rc;
  struct staged_x *s = &w->sx[w->nsx];
  s->seq = x->seq;
  s->exchange_id = x->exchange_id;
  s->step = x->step;
  s->key_hash = x->key_hash;
  s->recorded_status = x->recorded_status;
  s->recorded_latency_us = x->recorded_latency_us;
  s->intended_ns = x->intended_ns;
  rc = stage_str(w, &s->key, x->request_key);
  if (!rc) rc = stage_str(w, &s->routed, x->routed);
  if (!rc) rc = stage_str(w, &s->method, x->method ? x->method : "");
  if (!rc) rc = stage_str(w, &s->target, x->target ? x->target : "");
  if (!rc) rc = stage_str(w, &s->hjson, x->req_headers_json);
  if (!rc) rc = stage(w, &s->body, x->req_body, x->req_body ? x->req_body_len : 0);
  if (rc) return stage_failed(w, err);
  w->nsx++;
  w->pending_x++;
  after_row(w, x->req_body ? x->req_body_len : 0);
  return SC_OK;
}

int sc_store_writer_add_response(struct sc_store_writer *w, const struct sc_store_response *r,
                                 struct sc_error *err) {
  int rc = w->nsr == SC_STORE_MULTI ? drain(w, err) : SC_OK;
  if (!rc) rc = wbegin(w, err);
  if (rc) return rc;
  struct staged_r *s = &w->sr[w->nsr];
  s->seq = r->seq;
  s->status = r->status;
  s->latency_us = r->latency_us;
  s->ttfb_us = r->ttfb_us;
  s->sent_ns = r->sent_ns;
  s->skew_us = r->skew_us;
  s->body_len = r->body_len;
  s->body_truncated = r->body_truncated;
  rc = stage_str(w, &s->target, r->target);
  if (!rc) rc = stage_str(w, &s->error, r->error);
  if (!rc) rc = stage_str(w, &s->hjson, r->headers_json);
  if (!rc) rc = stage(w, &s->body, r->body, r->body ? r->body_stored_len : 0);
  if (!rc) rc = stage_str(w, &s->hash, r->body_hash);
  if (!rc) rc = stage_str(w, &s->ctype, r->content_type);
  if (rc) return stage_failed(w, err);
  w->nsr++;
  after_row(w, r->body ? r->body_stored_len : 0);
  return SC_OK;
}

uint64_t sc_store_writer_committed(const struct sc_store_writer *w) { return w->committed; }
uint64_t sc_store_writer_committed_exchanges(const struct sc_store_writer *w) { return w->committed_x; }

void sc_store_writer_free(struct sc_store_writer *w) {
  if (!w) return;
  wrollback(w);
  for (int i = 0; i <= SC_STORE_MULTI; i++) {
    sqlite3_finalize(w->ins_x[i]);
    sqlite3_finalize(w->ins_r[i]);
  }
  sc_buf_release(&w->stage);
  sqlite3_exec(w->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
  sqlite3_finalize(w->begin);
  sqlite3_finalize(w->commit);
  sqlite3_finalize(w->rollback);
  free(w);
}

/*
 * writer.h - results database writer: runs, per-target counters, progressive
 * steps, and the batched exchange/response writer used by replay.
 * Tables: schemas/results.sql.
 *
 * Batching: sc_store_writer_add_* open a transaction on first use and commit
 * it every `batch_rows` rows or SC_STORE_BATCH_BYTES of estimated row data
 * (bodies plus SC_STORE_ROW_OVERHEAD per row), whichever comes first, so a
 * batch of large answers stays as small on disk as before while small rows
 * go in fewer, larger commits; the caller also calls sc_store_writer_flush()
 * on a timer (replay: every 100 ms) and before reading its own rows. A crash
 * loses at most the uncommitted batch; SQLite's journal keeps the file valid.
 *
 * Strings passed in are borrowed for the duration of the call only.
 */
#ifndef SC_STORE_WRITER_H
#define SC_STORE_WRITER_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* What a run is (row of `runs`). NULL strings are stored as NULL. */
struct sc_run_info {
  const char *traffic_file;
  const char *mode;          /* "single", "shadow", "canary" */
  double fraction;           /* 0..1 */
  const char *steps_json;    /* "[0.01,0.05]" or NULL */
  uint64_t seed;
  const char *key_spec;
  const char *current_url, *candidate_url, *secondary_url;
  const char *pacing;        /* "recorded:1x", "rate:2000/s", "max" */
  int64_t concurrency;
  const char *config_json;
  const char *argv;
};

/* Capture loss carried from the traffic file trailer. */
struct sc_run_capture {
  int64_t exchanges, kernel_drops, stream_gaps, truncated, unpaired;
  int64_t first_ns, last_ns;
};

/* Inserts a run with status 'running', started_at now, host and pid of this
 * process; *run_id gets its id. */
int sc_store_run_begin(sqlite3 *db, const struct sc_run_info *ri, int64_t *run_id,
                       struct sc_error *err) SC_MUST_CHECK;
int sc_store_run_capture(sqlite3 *db, int64_t run_id, const struct sc_run_capture *c,
                         struct sc_error *err) SC_MUST_CHECK;
/* Sets status ('completed', 'interrupted', 'aborted'), finished_at, reason,
 * aborted_step (< 0: NULL), traffic_error (NULL ok) and requests (rows in
 * exchanges, counted). */
int sc_store_run_finish(sqlite3 *db, int64_t run_id, const char *status, const char *reason,
                        int aborted_step, const char *traffic_error,
                        struct sc_error *err) SC_MUST_CHECK;
/* Upserts one run_targets row. */
int sc_store_run_target(sqlite3 *db, int64_t run_id, const char *target, const char *url,
                        int64_t sent, int64_t shed, int64_t errors, int64_t conns,
                        struct sc_error *err) SC_MUST_CHECK;
/* Progressive canary steps: begin inserts the row (started_at now); end sets
 * finished_at, exchanges and verdict ("pass", "fail", "inconclusive" or NULL). */
int sc_store_step_begin(sqlite3 *db, int64_t run_id, int step, double fraction,
                        struct sc_error *err) SC_MUST_CHECK;
int sc_store_step_end(sqlite3 *db, int64_t run_id, int step, int64_t exchanges,
                      const char *verdict, struct sc_error *err) SC_MUST_CHECK;
/* Marks every 'running' run of this host whose pid no longer exists as
 * 'interrupted' (killed: kill -9, crash, power loss). *n gets how many. */
int sc_store_reap_dead_runs(sqlite3 *db, int *n, struct sc_error *err) SC_MUST_CHECK;

/* One row of `exchanges`. */
struct sc_store_exchange {
  int64_t seq;
  uint64_t exchange_id;
  int step;
  const char *request_key;       /* may be NULL */
  uint64_t key_hash;
  const char *routed;            /* "current", "candidate", "both" */
  const char *method, *target;
  const char *req_headers_json;  /* may be NULL */
  const void *req_body;
  size_t req_body_len;
  int recorded_status;           /* 0 -> NULL */
  double recorded_latency_us;    /* < 0 -> NULL */
  int64_t intended_ns;
};

/* One row of `responses`. */
struct sc_store_response {
  int64_t seq;
  const char *target;            /* "current", "candidate", "secondary" */
  int status;                    /* 0 -> NULL */
  const char *error;             /* NULL or an error kind (see results.sql) */
  double latency_us, ttfb_us;    /* < 0 -> NULL */
  int64_t sent_ns;
  double skew_us;                /* NAN -> NULL */
  const char *headers_json;
  const void *body;
  size_t body_stored_len;
  int64_t body_len;
  const char *body_hash;
  int body_truncated;
  const char *content_type;
};

struct sc_store_writer;

#define SC_STORE_BATCH_BYTES (1u << 20)
#define SC_STORE_ROW_OVERHEAD 256u

/* Creates a writer for run_id (statements prepared now). Free with
 * sc_store_writer_free() after a last sc_store_writer_flush(). */
int sc_store_writer_new(struct sc_store_writer **out, sqlite3 *db, int64_t run_id,
                        unsigned batch_rows, struct sc_error *err) SC_MUST_CHECK;
int sc_store_writer_add_exchange(struct sc_store_writer *w, const struct sc_store_exchange *x,
                                 struct sc_error *err) SC_MUST_CHECK;
int sc_store_writer_add_response(struct sc_store_writer *w, const struct sc_store_response *r,
                                 struct sc_error *err) SC_MUST_CHECK;
/* Commits the open transaction, if any. */
int sc_store_writer_flush(struct sc_store_writer *w, struct sc_error *err) SC_MUST_CHECK;
/* Rows committed so far. */
uint64_t sc_store_writer_committed(const struct sc_store_writer *w);
/* Exchange rows committed so far. */
uint64_t sc_store_writer_committed_exchanges(const struct sc_store_writer *w);
/* Rolls back anything uncommitted, finalizes statements, frees w. NULL ok. */
void sc_store_writer_free(struct sc_store_writer *w);

#endif

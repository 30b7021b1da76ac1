/*
 * replay.h - the replay engine, the only replay header the CLI sees.
 * Stage: replay. Results: schemas/results.sql.
 *
 * sc_replay_run() reads exchanges from a source (normally the traffic file
 * reader), sends each to the targets chosen by the policy (single, shadow,
 * canary, progressive canary steps), paces them (recorded timing scaled by
 * speed, open-loop rate, or as fast as possible under a concurrency cap),
 * and records every answer into results.db through a batched writer.
 *
 * Targets are independent: each has its own in-flight budget (concurrency)
 * and connection pool (pool_size). With recorded or --rate pacing a request
 * that would pass a target's budget is shed and counted (run_targets.shed),
 * so a slow or dead candidate never slows what current receives. With --max
 * pacing (closed loop) an exchange waits until every target it goes to has
 * room: nothing is shed, and the throughput follows the slowest target.
 *
 * Redirects are never followed: a 3xx is recorded as is. Requests only go to
 * the URLs in the configuration.
 *
 * Signals: SIGINT/SIGTERM stop sending; in-flight requests finish (each is
 * bounded by the timeout), everything is committed, the run is marked
 * 'interrupted' and sc_replay_run returns SC_EINTR with the summary filled.
 * A second signal cancels what is still in flight.
 */
#ifndef SC_REPLAY_REPLAY_H
#define SC_REPLAY_REPLAY_H

#include <sqlite3.h>
#include <stdint.h>

#include "traffic/exchange.h"
#include "util/err.h"

enum sc_replay_target { SC_T_CURRENT = 0, SC_T_CANDIDATE = 1, SC_T_SECONDARY = 2, SC_T_COUNT = 3 };
enum sc_replay_mode { SC_MODE_SINGLE = 0, SC_MODE_SHADOW, SC_MODE_CANARY };
enum sc_replay_pacing { SC_PACE_RECORDED = 0, SC_PACE_RATE, SC_PACE_MAX };

/* Error kinds of one response (responses.error). */
enum sc_replay_errkind {
  SC_RE_NONE = 0, SC_RE_REFUSED, SC_RE_RESET, SC_RE_TIMEOUT, SC_RE_CONNECT,
  SC_RE_MALFORMED, SC_RE_TOO_LARGE, SC_RE_CLOSED, SC_RE_OTHER, SC_RE_COUNT
};
const char *sc_replay_errkind_name(int kind); /* "refused" ... NULL for NONE */

/* Per-step evaluation hook of a progressive canary. Called after step `step`
 * (0-based) with every exchange of the run committed; returns 0 pass,
 * 1 breach (the run is aborted), 3 inconclusive (the ramp continues), or a
 * negative sc_err (treated as inconclusive; message logged). */
typedef int (*sc_replay_step_hook)(void *ctx, sqlite3 *db, int64_t run_id, int step);

/* Source of exchanges. next() returns 1 with x filled (x is released and
 * refilled by each call, as sc_tf_reader_next does: x may come in emptied
 * by sc_exchange_clear, holding only kept arena blocks), 0 at end, or a negative sc_err with err set (the
 * engine replays what came before, records err->msg as the run's
 * traffic_error and finishes). rewind() restarts from the first exchange
 * (--loop); may be NULL. */
struct sc_replay_source {
  int (*next)(void *ctx, struct sc_exchange *x, struct sc_error *err);
  int (*rewind)(void *ctx, struct sc_error *err);
  void *ctx;
  /* capture loss carried into the run (may be filled after the first next()) */
  int (*capture_stats)(void *ctx, int64_t out[7]); /* exchanges, kdrops, gaps, trunc, unpaired, first, last; NULL ok */
  /* share of the source consumed (0..1), < 0 unknown; NULL ok. Gives the
   * status line its progress and ETA when neither --limit nor --duration does. */
  double (*progress)(void *ctx);
};

struct sc_replay_cfg {
  const char *traffic_path;           /* recorded in runs.traffic_file */
  const char *url[SC_T_COUNT];        /* current required; others NULL */
  enum sc_replay_mode mode;
  double fraction;                    /* shadow: mirrored share; canary: candidate share (0..1) */
  const double *steps;                /* progressive canary fractions (0..1) or NULL */
  int n_steps;
  double step_duration_s;             /* step length in seconds (0: unused) */
  uint64_t step_exchanges;            /* step length in exchanges (0: unused) */
  sc_replay_step_hook on_step_end;    /* NULL: every step passes */
  void *step_ctx;
  const char *key_rule;               /* NULL/"default", "$.json.path", "header:Name" */
  uint64_t seed;
  enum sc_replay_pacing pacing;
  double speed;                       /* recorded pacing factor (1.0) */
  double rate;                        /* requests/s for SC_PACE_RATE */
  unsigned concurrency;               /* per-target in-flight budget */
  unsigned pool_size;                 /* per-target connections (0: = concurrency) */
  double timeout_s;                   /* per request: connect + write + response */
  double duration_s;                  /* stop sending after (0: no limit) */
  uint64_t limit;                     /* exchanges to send (0: all) */
  int loop;                           /* restart the source at its end until duration/limit */
  int keep_host;                      /* keep the recorded Host header */
  const char *const *headers;         /* "Name: value" added or overriding; NULL-terminated or NULL */
  const char *shadow_header;          /* "X-Shadow-Request" by default; NULL omits */
  const char *methods;                /* comma list ("POST,GET"), NULL = all */
  uint64_t body_cap;                  /* stored response body cap */
  unsigned batch_rows;                /* writer batch size in rows (0: 4096; also capped at SC_STORE_BATCH_BYTES) */
  const char *argv;                   /* command line, recorded */
  const char *config_json;            /* effective config, recorded */
  int status_line;                    /* draw progress (TTY live line / plain every 10 s) */
};

void sc_replay_cfg_init(struct sc_replay_cfg *cfg);

struct sc_replay_target_summary {
  int used;
  uint64_t sent, ok, shed, conns;
  uint64_t errors[SC_RE_COUNT];
  uint64_t errors_total;
  double p50_us, p99_us;              /* of completed (non-error) responses */
  double max_skew_us;                 /* shadow: max |send skew| vs current */
};

struct sc_replay_summary {
  int64_t run_id;
  const char *status;                 /* "completed", "interrupted", "aborted" (static) */
  uint64_t exchanges;                 /* committed to the database */
  uint64_t read;                      /* read from the source */
  uint64_t filtered;                  /* skipped by --methods */
  double elapsed_s;
  int aborted_step;                   /* -1 unless aborted */
  int traffic_error;                  /* 1 if the source failed (message in traffic_msg) */
  char traffic_msg[SC_ERRMSG_MAX];
  struct sc_replay_target_summary t[SC_T_COUNT];
};

/* Runs one replay into db (opened with sc_db_open(SC_DB_CREATE)). Returns
 * SC_OK for a completed run (even when targets answered with errors: the gate
 * judges), SC_EINTR when interrupted by a signal, SC_ESTATE when a step
 * breached (run aborted), or another sc_err for a failure of the job itself
 * (database full, ...; the run is marked interrupted when the database still
 * allows it). sum is filled in every case where a run was created
 * (sum->run_id > 0). */
int sc_replay_run(const struct sc_replay_cfg *cfg, struct sc_replay_source *src, sqlite3 *db,
                  struct sc_replay_summary *sum, struct sc_error *err) SC_MUST_CHECK;

/* ---- pieces exposed for unit tests and the CLI ---- */

/* http://host[:port][/prefix] -> parts. https gives SC_EUNSUPPORTED ("TLS is
 * not supported yet"), anything else malformed SC_EPARSE_URL. host and
 * path_prefix are copied into the struct. */
struct sc_replay_url {
  char host[256];
  uint16_t port;
  char path_prefix[1024];             /* "" or "/base" (no trailing slash) */
  char hostport[300];                 /* Host header value */
};
int sc_replay_url_parse(const char *url, struct sc_replay_url *out, struct sc_error *err) SC_MUST_CHECK;

/* Request key of x under rule (see cfg.key_rule); *key is a heap string the
 * caller frees (free()), *hash = XXH64(key, seed). For the default rule
 * (method, target and body) the stored key is the hash in hex. */
int sc_replay_key(const char *rule, const struct sc_exchange *x, uint64_t seed, char **key,
                  uint64_t *hash, struct sc_error *err) SC_MUST_CHECK;
/* 1 when hash falls in the first `fraction` of the 64-bit space. */
int sc_replay_hash_in(uint64_t hash, double fraction);
/* Validates a key rule (usage errors before the run starts). */
int sc_replay_key_rule_check(const char *rule, struct sc_error *err) SC_MUST_CHECK;

#endif

/*
 * sink.h - result sink: a writer thread that stores finished jobs through the
 * batched store writer (see sink.c for the threading rules). Stage: replay.
 */
#ifndef SC_REPLAY_SINK_H
#define SC_REPLAY_SINK_H

#include "replay/internal.h"
#include "store/writer.h"

struct rp_sink;

/* Starts the writer thread over w (used only by that thread from now on,
 * except inside rp_sink_barrier). free_job frees a job once it is written
 * (called on the pushing thread, inside rp_sink_push and rp_sink_stop).
 * Stop with rp_sink_stop(). */
int rp_sink_start(struct rp_sink **out, struct sc_store_writer *w, uint64_t start_ns, int rate_pacing,
                  void (*free_job)(struct rp_job *), struct sc_error *err);
/* Hands j over (ownership moves). Jobs go to the writer in batches: when
 * RP_SINK_BATCH (1024) are pushed, or at rp_sink_flush / _barrier / _stop. */
void rp_sink_push(struct rp_sink *s, struct rp_job *j);
/* Hands the pushed jobs to the writer now; waits while the queue is full.
 * Frees the jobs written since the last hand-over. NULL ok. */
void rp_sink_flush(struct rp_sink *s);
/* Waits until everything pushed so far is written and committed. Returns the
 * first write error, if any (err filled). */
int rp_sink_barrier(struct rp_sink *s, struct sc_error *err);
/* The first write error so far (non-blocking), 0 if none. */
int rp_sink_error(struct rp_sink *s, struct sc_error *err);
/* Writes what is queued, commits, joins the thread, frees the written jobs
 * and s. Returns the
 * first write error of the sink's life (err filled). NULL ok. */
int rp_sink_stop(struct rp_sink *s, struct sc_error *err);

/* ---- header JSON (exposed for unit tests) ----
 * The text jansson's json_dumps(JSON_COMPACT) gives for the same values; see
 * sink.c. rp_json_str appends s[0..n) as a JSON string (SC_EINVAL, o
 * unchanged, when s is not valid UTF-8). The two builders reset o and return
 * o->p, or NULL when the document cannot be built. */
int rp_json_str(struct sc_buf *o, const char *s, size_t n) SC_MUST_CHECK;
/* Response headers "name\0value\0..." -> [[name, value], ...]; *ctype gets
 * the Content-Type value (NUL-terminated inside raw) or NULL. */
const char *rp_headers_json(struct sc_buf *o, const struct sc_buf *raw, const char **ctype);
/* Header lines of request bytes as sent -> [[name, value], ...]. */
const char *rp_request_headers_json(struct sc_buf *o, const struct sc_buf *req);

#endif

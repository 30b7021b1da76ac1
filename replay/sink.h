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
 * except inside rp_sink_barrier). free_job frees a job (called on the writer
 * thread). Stop with rp_sink_stop(). */
int rp_sink_start(struct rp_sink **out, struct sc_store_writer *w, uint64_t start_ns, int rate_pacing,
                  void (*free_job)(struct rp_job *), struct sc_error *err);
/* Hands j over (ownership moves); waits while the queue is full. */
void rp_sink_push(struct rp_sink *s, struct rp_job *j);
/* Waits until everything pushed so far is written and committed. Returns the
 * first write error, if any (err filled). */
int rp_sink_barrier(struct rp_sink *s, struct sc_error *err);
/* The first write error so far (non-blocking), 0 if none. */
int rp_sink_error(struct rp_sink *s, struct sc_error *err);
/* Writes what is queued, commits, joins the thread and frees s. Returns the
 * first write error of the sink's life (err filled). NULL ok. */
int rp_sink_stop(struct rp_sink *s, struct sc_error *err);

#endif

/*
 * pair.h - one TCP connection seen as HTTP/1.1: a request parser on the
 * client->server bytes, a response parser on the server->client bytes, and
 * FIFO pairing of responses to requests (pipelining). Stage: capture.
 * Reference: RFC 9112 section 9.3.2 (pipelining: responses in request order),
 * RFC 9110 section 15.2 (1xx interim responses precede the final one).
 */
#ifndef SC_CAPTURE_PAIR_H
#define SC_CAPTURE_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "capture/reasm.h"
#include "traffic/exchange.h"
#include "util/err.h"

struct sc_pair_stats {
  uint64_t exchanges;           /* emitted (paired or response missing) */
  uint64_t unpaired_requests;   /* emitted with SC_XF_RESPONSE_MISSING */
  uint64_t unpaired_responses;  /* final responses with no request: dropped */
  uint64_t interim;             /* 1xx responses seen */
  uint64_t parse_errors, truncated_bodies, dropped_messages, resyncs;
  uint64_t non_http_flows, upgraded, gaps_in_messages;
};

/* Shared by all connections of one capture. emit takes ownership of *x's
 * contents (it must sc_exchange_release it) and returns 0 or a negative
 * sc_err with err set; the first failure is kept in rc/err and stops
 * emission. */
struct sc_pair_ctx {
  size_t max_body;
  int (*emit)(void *ud, struct sc_exchange *x, struct sc_error *err);
  void *ud;
  struct sc_pair_stats st;
  int rc;
  struct sc_error err;
};

struct sc_pair;

/* Session for connection c (its client guess and addresses are read now and
 * whenever roles are corrected). NULL on allocation failure. */
struct sc_pair *sc_pair_new(struct sc_pair_ctx *ctx, const struct sc_reasm_conn *c);
/* dir is the reassembler's endpoint index of the sender. */
int sc_pair_data(struct sc_pair *pr, int dir, const uint8_t *p, size_t n, uint64_t ts);
int sc_pair_gap(struct sc_pair *pr, int dir, uint64_t n);
int sc_pair_fin(struct sc_pair *pr, int dir, uint64_t ts);
/* Ends the session: completes close-delimited responses, emits requests
 * still waiting (SC_XF_RESPONSE_MISSING), counts, frees pr. */
int sc_pair_close(struct sc_pair *pr, uint64_t ts);

/* Frees every pointer an exchange holds (same contract as
 * sc_exchange_release, kept here so capture does not depend on the traffic
 * library's build order). */
void sc_pair_exchange_release(struct sc_exchange *x);

#endif

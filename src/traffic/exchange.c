/*
 * exchange.c - lifecycle helpers of struct sc_exchange, the traffic file's
 * record. Stage: traffic. Reference: schemas/traffic.md, RFC 9110 section 5.1
 * (field names are case-insensitive).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "traffic/exchange.h"

static void msg_release(struct sc_http_msg *m) {
  free(m->method);
  free(m->target);
  free(m->reason);
  for (size_t i = 0; i < m->n_headers; i++) {
    free(m->headers[i].name);
    free(m->headers[i].value);
  }
  free(m->headers);
  free(m->body);
}

void sc_exchange_release(struct sc_exchange *x) {
  if (!x) return;
  msg_release(&x->req);
  msg_release(&x->resp);
  memset(x, 0, sizeof *x);
}

const struct sc_hdr *sc_http_msg_header(const struct sc_http_msg *m, const char *name) {
  if (!m || !name) return NULL;
  size_t n = strlen(name);
  for (size_t i = 0; i < m->n_headers; i++) {
    const struct sc_hdr *h = &m->headers[i];
    if (h->name && h->name_len == n && strncasecmp(h->name, name, n) == 0) return h;
  }
  return NULL;
}

uint64_t sc_exchange_latency_ns(const struct sc_exchange *x) {
  if (!x || !x->t_req_last || !x->t_resp_last || x->t_resp_last < x->t_req_last) return 0;
  return x->t_resp_last - x->t_req_last;
}

/*
 * test_http1.c - src/capture/http1.c: the HTTP/1.1 stream parser, with every
 * input placed right before a PROT_NONE guard page (picohttpparser style), so
 * any read past the end crashes; every message is also fed split at every
 * byte. Also sc_http1_looks_like_start().
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/http1.h"
#include "traffic/exchange.h"

static uint8_t *guard_base;
static size_t page;

static void setup(void) {
  page = (size_t)sysconf(_SC_PAGESIZE);
  guard_base = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(guard_base, MAP_FAILED);
  cr_assert_eq(mprotect(guard_base + page, page, PROT_NONE), 0);
}
static void teardown(void) { munmap(guard_base, 2 * page); }

/* Copies s so that its last byte is the last readable byte. */
static const uint8_t *at_guard(const char *s, size_t n) {
  cr_assert_leq(n, page);
  uint8_t *p = guard_base + page - n;
  memcpy(p, s, n);
  return p;
}

struct got {
  int n;
  int status[8];
  char target[8][64];
  size_t body_len[8];
  unsigned flags[8];
};

static void on_msg(void *ud, struct sc_http1 *h, struct sc_http_msg *m, uint64_t t0, uint64_t t1,
                   unsigned flags) {
  struct got *g = ud;
  (void)h; (void)t0; (void)t1;
  if (g->n < 8) {
    g->status[g->n] = m->status;
    snprintf(g->target[g->n], 64, "%s", m->target ? m->target : "");
    g->body_len[g->n] = m->body_len;
    g->flags[g->n] = flags;
    g->n++;
  }
  struct sc_exchange x = {0};
  x.req = *m;
  sc_exchange_release(&x);
}

static const struct {
  int is_request;
  const char *in;
  int n_msgs;
  int status;        /* of the first message (responses) */
  size_t body_len;   /* of the first message */
} cases[] = {
  {1, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, 0, 0},
  {1, "POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 1, 0, 3},
  {1, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 1, 0, 3},
  {1, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", 2, 0, 0},
  {1, "GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.0\r\n\r\n", 2, 0, 0},
  {0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1, 200, 2},
  {0, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 2, 100, 0},
  {0, "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 2, 304, 0},
  {0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 1, 200, 1},
  {0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 0, 0, 0},    /* body cut: incomplete */
  {1, "GET /x HTTP/1.1\r\nBad Header\r\n\r\nGET /y HTTP/1.1\r\n\r\n", 1, 0, 0}, /* resync to /y */
};

TestSuite(http1, .init = setup, .fini = teardown);

Test(http1, guard_page_and_every_split) {
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    size_t n = strlen(cases[k].in);
    for (size_t split = 0; split <= n; split++) {
      struct got g = {0};
      struct sc_http1_cbs cbs = {&g, on_msg, NULL};
      struct sc_http1 h;
      sc_http1_init(&h, cases[k].is_request, 1 << 20, &cbs, 0);
      /* each piece is placed against the guard page */
      const uint8_t *a = at_guard(cases[k].in, split);
      cr_assert_eq(sc_http1_feed(&h, a, split, 1), 0);
      const uint8_t *b = at_guard(cases[k].in + split, n - split);
      cr_assert_eq(sc_http1_feed(&h, b, n - split, 2), 0);
      sc_http1_release(&h);
      cr_expect_eq(g.n, cases[k].n_msgs, "case %zu split %zu: %d messages", k, split, g.n);
      if (g.n && !cases[k].is_request) cr_expect_eq(g.status[0], cases[k].status, "case %zu", k);
      if (g.n) cr_expect_eq(g.body_len[0], cases[k].body_len, "case %zu split %zu", k, split);
    }
  }
}

Test(http1, every_prefix_never_overreads) {
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    size_t n = strlen(cases[k].in);
    for (size_t len = 0; len <= n; len++) {
      struct got g = {0};
      struct sc_http1_cbs cbs = {&g, on_msg, NULL};
      struct sc_http1 h;
      sc_http1_init(&h, cases[k].is_request, 4, &cbs, len & 1);
      cr_assert_eq(sc_http1_feed(&h, at_guard(cases[k].in, len), len, 1), 0);
      cr_assert_eq(sc_http1_eof(&h, 2), 0);
      sc_http1_release(&h);
      cr_expect_leq(g.n, cases[k].n_msgs);
    }
  }
}

/* Method, target or status and reason, then every header as recorded, one
 * line per message. */
static void on_dump(void *ud, struct sc_http1 *h, struct sc_http_msg *m, uint64_t t0, uint64_t t1,
                    unsigned flags) {
  char *d = ud;
  size_t n = strlen(d);
  (void)h; (void)t0; (void)t1; (void)flags;
  if (m->method) n += (size_t)snprintf(d + n, 1024 - n, "%s %s", m->method, m->target);
  else n += (size_t)snprintf(d + n, 1024 - n, "%d [%s]", m->status, m->reason);
  for (size_t i = 0; i < m->n_headers; i++) {
    const struct sc_hdr *x = &m->headers[i];
    cr_assert_eq(strlen(x->name), x->name_len, "names are NUL-terminated");
    cr_assert_eq(strlen(x->value), x->value_len, "values are NUL-terminated");
    n += (size_t)snprintf(d + n, 1024 - n, " <%s>=<%s>", x->name, x->value);
  }
  snprintf(d + n, 1024 - n, " body=%zu\n", m->body_len);
  struct sc_exchange x = {0};
  x.req = *m;
  sc_exchange_release(&x);
}

Test(http1, head_fields_every_split) {
  static const struct {
    int is_request;
    const char *in, *want;
  } hc[] = {
    {1, "POST /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nx-MiXed:  v1 v2 \r\nContent-Length: 2\r\n\r\nok"
        "GET /2 HTTP/1.1\r\n\r\n",
     "POST /a?b=1 <Host>=<x> <X-Empty>=<> <x-MiXed>=<v1 v2 > <Content-Length>=<2> body=2\n"
     "GET /2 body=0\n"},
    {0, "HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 \r\nB: 2\r\n\r\n",
     "200 [OK] <A>=<1> <Content-Length>=<0> body=0\n204 [] <B>=<2> body=0\n"},
    {1, "POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nT1: a\r\nT2: b\r\nT3: c\r\n\r\n",
     "POST /t <Transfer-Encoding>=<chunked> <T1>=<a> <T2>=<b> body=1\n"},
  };
  for (size_t k = 0; k < sizeof hc / sizeof hc[0]; k++) {
    size_t n = strlen(hc[k].in);
    for (size_t split = 0; split <= n; split++) {
      char d[1024] = "";
      struct sc_http1_cbs cbs = {d, on_dump, NULL};
      struct sc_http1 h;
      sc_http1_init(&h, hc[k].is_request, 1 << 20, &cbs, 0);
      cr_assert_eq(sc_http1_feed(&h, at_guard(hc[k].in, split), split, 1), 0);
      cr_assert_eq(sc_http1_feed(&h, at_guard(hc[k].in + split, n - split), n - split, 2), 0);
      sc_http1_release(&h);
      cr_expect_str_eq(d, hc[k].want, "case %zu split %zu", k, split);
    }
  }
}

Test(http1, resync_after_error_targets) {
  struct got g = {0};
  struct sc_http1_cbs cbs = {&g, on_msg, NULL};
  struct sc_http1 h;
  const char *in = cases[10].in;
  sc_http1_init(&h, 1, 1 << 20, &cbs, 0);
  cr_assert_eq(sc_http1_feed(&h, at_guard(in, strlen(in)), strlen(in), 1), 0);
  cr_expect_eq(h.parse_errors, 1);
  sc_http1_release(&h);
  cr_assert_eq(g.n, 1);
  cr_expect_str_eq(g.target[0], "/y");
  cr_expect(g.flags[0] & SC_H1_RESYNCED);
}

Test(http1, not_http_goes_dead) {
  struct got g = {0};
  struct sc_http1_cbs cbs = {&g, on_msg, NULL};
  struct sc_http1 h;
  sc_http1_init(&h, 1, 1 << 20, &cbs, 0);
  const char *in = "\x16\x03\x01 binary GET / HTTP/1.1\r\n\r\n";
  cr_assert_eq(sc_http1_feed(&h, at_guard(in, strlen(in)), strlen(in), 1), 0);
  cr_expect_eq(h.state, SC_H1_DEAD);
  cr_expect_eq(g.n, 0);
  sc_http1_release(&h);
}

static const struct {
  const char *s;
  int is_request, want;
} starts[] = {
  {"GET / HTTP/1.1\r\n", 1, 1},
  {"POST /a?b HTTP/1.0\r\n", 1, 1},
  {"M-SEARCH * HTTP/1.1\r\n", 1, 1},
  {"get / HTTP/1.1\r\n", 1, 0},
  {"GET  HTTP/1.1\r\n", 1, 0},
  {"GET /", 1, 0},
  {"HTTP/1.1 200 OK\r\n", 0, 1},
  {"HTTP/1.0 404", 0, 1},
  {"HTTP/1.1 20", 0, 0},
  {"HTTP/2 200 OK", 0, 0},
  {"", 1, 0},
  {"", 0, 0},
};

Test(http1, looks_like_start_at_guard) {
  for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
    size_t n = strlen(starts[k].s);
    cr_expect_eq(sc_http1_looks_like_start(at_guard(starts[k].s, n), n, starts[k].is_request),
                 starts[k].want, "'%s'", starts[k].s);
  }
}

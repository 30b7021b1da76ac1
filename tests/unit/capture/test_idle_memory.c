/* test_idle_memory.c - src/capture/capture.c + reasm.c: many connections
 * that open, send half a request and go quiet do not grow memory without
 * bound: idle eviction releases them, so heap in use after 200k such
 * connections is what it was after 40k (only the last idle-timeout's worth
 * are alive). Without eviction the same traffic holds every connection, which
 * shows the measurement can see the difference. Heap use is read with
 * mallinfo2 (glibc); under ASan that allocator is replaced, so only the
 * eviction counts are checked there. */
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include "capture/capture.h"
#include "traffic/exchange.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_MEASURABLE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_MEASURABLE 0
#endif
#endif
#ifndef HEAP_MEASURABLE
#define HEAP_MEASURABLE 1
#endif

static uint64_t emitted;

static int sink(void *ud, struct sc_exchange *x, struct sc_error *err) {
  (void)ud; (void)err;
  emitted++;
  sc_exchange_release(x);
  return 0;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* A raw-IPv4 TCP segment from client i to 10.0.0.1:8080. */
static size_t seg(uint8_t *out, uint32_t i, uint8_t flags, uint32_t seq, const char *payload) {
  size_t n = payload ? strlen(payload) : 0;
  memset(out, 0, 40);
  out[0] = 0x45;
  put16(out + 2, (uint16_t)(40 + n));
  out[8] = 64;
  out[9] = 6;
  out[12] = 172; out[13] = (uint8_t)(16 + (i >> 16 & 15)); out[14] = (uint8_t)(i >> 8); out[15] = (uint8_t)i;
  out[16] = 10; out[19] = 1;
  put16(out + 20, (uint16_t)(20000 + i % 40000));
  put16(out + 22, 8080);
  put32(out + 24, seq);
  out[32] = 5 << 4;
  out[33] = flags;
  put16(out + 34, 65535);
  if (n) memcpy(out + 40, payload, n);
  return 40 + n;
}

struct run {
  struct sc_capture_engine *e;
  uint64_t ts;
  uint32_t next;
};

static void feed(struct run *r, uint32_t upto) {
  static const char half[] = "POST /v1/score HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n"
                             "Content-Length: 4000\r\n\r\n{\"txn_id\":\"t1\",\"amount\":12.5,\"pad\":\"";
  uint8_t pkt[512];
  struct sc_error err;
  sc_error_init(&err);
  for (; r->next < upto; r->next++) {
    uint32_t i = r->next;
    size_t n = seg(pkt, i, 0x02, 999, NULL); /* SYN */
    cr_assert_eq(sc_capture_engine_packet(r->e, pkt, (uint32_t)n, (uint32_t)n, r->ts, &err), 0, "%s", err.msg);
    n = seg(pkt, i, 0x18, 1000, half);      /* half a request, then silence */
    cr_assert_eq(sc_capture_engine_packet(r->e, pkt, (uint32_t)n, (uint32_t)n, r->ts + 100000, &err), 0, "%s",
                 err.msg);
    r->ts += 1000000; /* one new connection per millisecond of capture time */
  }
}

static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks;
}

Test(capture_idle, idle_connections_are_evicted_and_memory_stays_flat, .timeout = 120) {
  struct sc_capture_engine_cfg cfg = {.dlt = 12, .port = 8080, .idle_timeout_s = 2};
  struct sc_capture_sink s = {sink, NULL};
  struct sc_error err;
  sc_error_init(&err);
  struct run r = {NULL, 1700000000ull * 1000000000ull, 0};
  cr_assert_eq(sc_capture_engine_new(&r.e, &cfg, &s, &err), 0, "%s", err.msg);
  feed(&r, 40000);
  size_t at40k = heap_in_use();
  feed(&r, 200000);
  size_t at200k = heap_in_use();
  struct sc_capture_stats st;
  sc_capture_engine_stats(r.e, &st);
  /* 2 s of capture time at 1000 connections/s: about 2000 alive at the end */
  cr_assert_geq(st.tf.idle_evictions, 200000 - 2100, "only %llu idle evictions",
                (unsigned long long)st.tf.idle_evictions);
  cr_assert_leq(st.tf.idle_evictions, 200000 - 1900, "%llu idle evictions: live connections were evicted",
                (unsigned long long)st.tf.idle_evictions);
  cr_assert_eq(sc_capture_engine_finish(r.e, &err), 0, "%s", err.msg);
  sc_capture_engine_free(r.e);
  if (HEAP_MEASURABLE) {
    cr_assert_leq(at200k, at40k + at40k / 4 + (1u << 20),
                  "heap grew from %zu to %zu bytes between 40k and 200k idle connections", at40k, at200k);
  }
}

Test(capture_idle, without_eviction_every_connection_is_held, .timeout = 120) {
  if (!HEAP_MEASURABLE) cr_skip_test("heap use not measurable under ASan");
  struct sc_capture_engine_cfg cfg = {.dlt = 12, .port = 8080, .idle_timeout_s = -1};
  struct sc_capture_sink s = {sink, NULL};
  struct sc_error err;
  sc_error_init(&err);
  struct run r = {NULL, 1700000000ull * 1000000000ull, 0};
  size_t before = heap_in_use();
  cr_assert_eq(sc_capture_engine_new(&r.e, &cfg, &s, &err), 0, "%s", err.msg);
  feed(&r, 2000);
  size_t at2k = heap_in_use();
  feed(&r, 40000);
  size_t at40k = heap_in_use();
  struct sc_capture_stats st;
  sc_capture_engine_stats(r.e, &st);
  cr_assert_eq(st.tf.idle_evictions, 0);
  /* twenty times the connections hold clearly more memory: the measure sees it */
  cr_assert_gt(at40k - before, 5 * (at2k - before), "heap %zu -> %zu -> %zu", before, at2k, at40k);
  cr_assert_eq(sc_capture_engine_finish(r.e, &err), 0, "%s", err.msg);
  sc_capture_engine_free(r.e);
}

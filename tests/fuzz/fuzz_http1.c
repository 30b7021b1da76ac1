/*
 * fuzz_http1.c - libFuzzer target for the HTTP/1.1 stream parser
 * (src/capture/http1.c). Stage: capture (hardening).
 * Input: byte 0 picks request/response and mid-stream start, byte 1 a split
 * size; the rest is fed in pieces of that size, then a gap and more bytes,
 * then end of stream. Every message is released (ASan finds leaks).
 */
#include <stddef.h>
#include <stdint.h>

#include "capture/http1.h"
#include "traffic/exchange.h"

static void on_msg(void *ud, struct sc_http1 *h, struct sc_http_msg *m, uint64_t t0, uint64_t t1,
                   unsigned flags) {
  (void)ud; (void)h; (void)t0; (void)t1; (void)flags;
  struct sc_exchange x = {0};
  x.req = *m;
  sc_exchange_release(&x);
}

static int is_head(void *ud, struct sc_http1 *h) {
  (void)h;
  return *(const uint8_t *)ud & 0x80;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint8_t mode = data[0];
  size_t step = (size_t)data[1] + 1;
  data += 2;
  size -= 2;
  struct sc_http1_cbs cbs = {&mode, on_msg, is_head};
  struct sc_http1 h;
  sc_http1_init(&h, mode & 1, (mode & 4) ? 16 : 1 << 16, &cbs, (mode >> 1) & 1);
  size_t half = size / 2;
  for (size_t off = 0; off < half; off += step) {
    size_t k = half - off < step ? half - off : step;
    if (sc_http1_feed(&h, data + off, k, off)) break;
  }
  if (mode & 8) (void)sc_http1_gap(&h, (uint64_t)(mode >> 4) * 7);
  for (size_t off = half; off < size; off += step) {
    size_t k = size - off < step ? size - off : step;
    if (sc_http1_feed(&h, data + off, k, off)) break;
  }
  (void)sc_http1_eof(&h, size);
  sc_http1_release(&h);
  return 0;
}

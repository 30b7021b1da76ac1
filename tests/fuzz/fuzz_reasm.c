/*
 * fuzz_reasm.c - libFuzzer target for the packet-to-exchange pipeline
 * (decode -> reasm -> http1 -> pair, src/capture/capture.c engine).
 * Stage: capture (hardening).
 * Input: a sequence of records [u8 link selector][u16 length][frame bytes];
 * each frame goes through sc_capture_engine_packet with a rising timestamp,
 * then the engine is finished (every connection closed and emitted).
 */
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "traffic/exchange.h"

static int sink(void *ud, struct sc_exchange *x, struct sc_error *err) {
  (void)ud; (void)err;
  sc_exchange_release(x);
  return 0;
}

static const int dlts[] = {1, 113, 276, 12, 0, 108, 228, 229};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  struct sc_capture_engine *e = NULL;
  struct sc_capture_engine_cfg cfg = {
    .dlt = dlts[data[0] & 7], .max_body = 64, .stream_cap = 4096, .mem_cap = 16384,
    .idle_timeout_s = 1,
  };
  struct sc_capture_sink s = {sink, NULL};
  struct sc_error err;
  if (sc_capture_engine_new(&e, &cfg, &s, &err)) return 0;
  size_t off = 1;
  uint64_t ts = 1000000000ull;
  while (off + 3 <= size) {
    size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
    ts += (uint64_t)data[off] * 10000000ull;
    off += 3;
    if (len > size - off) len = size - off;
    if (sc_capture_engine_packet(e, data + off, (uint32_t)len, (uint32_t)len + (data[0] >> 7), ts, &err))
      break;
    off += len;
  }
  if (sc_capture_engine_finish(e, &err)) { /* errors are a documented outcome here */ }
  sc_capture_engine_free(e);
  return 0;
}

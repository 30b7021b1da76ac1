/*
 * fuzz_tf_read.c - libFuzzer target: the traffic file reader (and redaction of
 * what it reads) on arbitrary bytes. Stage: traffic. Reference:
 * schemas/traffic.md. Built with -DSC_FUZZ=ON (clang); run with
 * scripts/fuzz.sh tf_read SECONDS. Seeds: tests/fuzz/corpus/tf_read/.
 *
 * Properties checked: no crash, leak or sanitizer report; every call returns a
 * documented code; errors are sticky; the count never exceeds what was returned.
 * And the reader's msgpack decoder agrees with msgpack-c's msgpack_unpack on
 * the input taken as one msgpack object: both decode it or neither does, to
 * the same tree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "traffic/redact.h"
#include "traffic/tf_internal.h"
#include "traffic/traffic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decoder_agrees(const uint8_t *data, size_t size) {
  msgpack_zone *z1 = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE), *z2 = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
  if (z1 && z2) {
    msgpack_object ref, got;
    const char *why = NULL;
    int rc = sc_tf_mp_decode(data, size, z2, &got, &why);
    /* a count larger than the input would make msgpack-c allocate for it
     * (gigabytes): only the decoder is run on such input */
    if (rc != SC_TF_MP_NOMEM && !(rc && strstr(why, "count larger"))) {
      size_t off = 0;
      msgpack_unpack_return ur = msgpack_unpack((const char *)data, size, &off, z1, &ref);
      int ref_ok = ur == MSGPACK_UNPACK_SUCCESS && off == size;
      if ((rc == 0) != ref_ok) abort();
      if (ref_ok && !sc_tf_mp_same(&ref, &got)) abort();
    }
  }
  if (z1) msgpack_zone_free(z1);
  if (z2) msgpack_zone_free(z2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  decoder_agrees(data, size);
  struct sc_error err;
  sc_error_init(&err);
  struct sc_redact_cfg cfg;
  if (sc_redact_cfg_init(&cfg, &err)) return 0;
  if (sc_redact_cfg_add_json_path(&cfg, "$..a", &err) || sc_redact_cfg_add_json_path(&cfg, "$.b[*].c", &err) ||
      sc_redact_cfg_add_json_path(&cfg, "$[0]", &err)) {
    sc_redact_cfg_release(&cfg);
    return 0;
  }
  struct sc_tf_reader *r = NULL;
  int rc = sc_tf_reader_open_mem(&r, data, size, "fuzz.shdw", &err);
  if (rc) {
    if (r || rc >= 0 || !err.msg[0]) abort();
    sc_redact_cfg_release(&cfg);
    return 0;
  }
  struct sc_exchange x;
  memset(&x, 0, sizeof x);
  uint64_t n = 0;
  while ((rc = sc_tf_reader_next(r, &x, &err)) == 1) {
    n++;
    if (sc_redact_exchange(&cfg, &x, &err)) break;
  }
  if (rc < 0 && rc != SC_ETRUNC && rc != SC_ECORRUPT && rc != SC_ENOMEM) abort();
  if (rc < 0 && sc_tf_reader_next(r, &x, NULL) != rc) abort();
  if (sc_tf_reader_count(r) != n) abort();
  sc_exchange_release(&x);
  sc_tf_reader_close(r);
  sc_redact_cfg_release(&cfg);
  return 0;
}

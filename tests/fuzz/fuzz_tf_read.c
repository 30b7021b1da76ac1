/*
 * fuzz_tf_read.c - libFuzzer target: the traffic file reader (and redaction of
 * what it reads) on arbitrary bytes. Stage: traffic. Reference:
 * schemas/traffic.md. Built with -DSC_FUZZ=ON (clang); run with
 * scripts/fuzz.sh tf_read SECONDS. Seeds: tests/fuzz/corpus/tf_read/.
 *
 * Properties checked: no crash, leak or sanitizer report; every call returns a
 * documented code; errors are sticky; the count never exceeds what was returned.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "traffic/redact.h"
#include "traffic/traffic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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

/*
 * fuzz_config.c - libFuzzer target: shadow.yaml parsing on arbitrary bytes.
 * Stage: util. Reference: src/util/config.h, schemas/shadow.schema.json. Run
 * with scripts/fuzz.sh config SECONDS. Seeds: tests/fuzz/corpus/config/.
 *
 * Properties checked: no crash, leak or sanitizer report; a failure returns a
 * documented code with a message starting "fuzz.yaml:LINE:COLUMN:"; the
 * configuration stays valid (serialisable) after success and failure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct sc_config cfg;
  struct sc_error err;
  sc_error_init(&err);
  if (sc_config_init_defaults(&cfg)) return 0;
  int rc = sc_config_load_buffer(&cfg, "fuzz.yaml", (const char *)data, size, &err);
  if (rc) {
    if (rc != SC_EPARSE_YAML && rc != SC_ECONFIG && rc != SC_ENOMEM && rc != SC_ETOOBIG) abort();
    if ((rc == SC_EPARSE_YAML || rc == SC_ECONFIG) && strncmp(err.msg, "fuzz.yaml:", 10)) abort();
  }
  char *js = sc_config_to_json(&cfg);
  free(js);
  sc_config_release(&cfg);
  return 0;
}

/*
 * fuzz_json_diff.c - libFuzzer target: the JSON diff on two arbitrary bodies
 * (split at the first NUL byte; the first byte picks content type and
 * encoding). Stage: diff. Reference: src/diff/json_diff.h. Run with
 * scripts/fuzz.sh json_diff SECONDS. Seeds: tests/fuzz/corpus/json_diff/.
 *
 * Properties checked: no crash, leak or sanitizer report; only SC_ENOMEM is
 * returned; a body compared with itself never differs; every entry's path
 * starts with '$'; the entry count respects the cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diff/extract.h"
#include "diff/json_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char yaml[] =
    "diff:\n  ignore: [\"$.meta.*\", \"$..request_id\", \"$.a[*].t\"]\n"
    "  tolerances:\n    - {path: \"$.score\", abs: 0.001}\n    - {path: \"$..w\", rel: 0.01}\n"
    "  max_depth: 32\n  max_bytes: 256k\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct sc_config cfg;
  static struct sc_diff_rules rules;
  static int ready;
  if (!ready) {
    struct sc_error err;
    if (sc_config_init_defaults(&cfg) || sc_config_load_buffer(&cfg, "f", yaml, sizeof yaml - 1, &err) ||
        sc_diff_rules_init(&rules, &cfg, &err))
      abort();
    ready = 1;
  }
  if (!size) return 0;
  uint8_t mode = data[0];
  data++, size--;
  const uint8_t *nul = memchr(data, 0, size);
  size_t na = nul ? (size_t)(nul - data) : size / 2;
  const uint8_t *b = nul ? nul + 1 : data + na;
  size_t nb = size - na - (nul ? 1 : 0);
  static const char *const ctypes[] = {"application/json", NULL, "text/plain", "application/problem+json"};
  static const char *const encs[] = {NULL, "gzip", "deflate", "identity"};
  const char *ct = ctypes[mode & 3], *enc = encs[(mode >> 2) & 3];
  struct sc_body ba = {data, na, ct, enc}, bb = {b, nb, ct, (mode & 16) ? enc : NULL};
  struct sc_parsed pa, pb;
  sc_parsed_init(&pa);
  sc_parsed_init(&pb);
  struct sc_diff_result r;
  sc_diff_result_init(&r);
  if (sc_diff_parse(&rules, &ba, &pa) || sc_diff_parse(&rules, &bb, &pb)) goto out;
  if (sc_diff_parsed(&rules, &pa, &pb, &r)) goto out;
  if (r.n > rules.max_entries) abort();
  for (size_t i = 0; i < r.n; i++)
    if (sc_diff_path(&r, &r.v[i])[0] != '$' || sc_diff_npath(&r, &r.v[i])[0] != '$') abort();
  char txt[64];
  for (size_t i = 0; i < r.n && i < 4; i++) sc_diff_value_text(r.v[i].a, txt, sizeof txt);
  if (sc_diff_parsed(&rules, &pa, &pa, &r)) goto out;
  if (r.cls == SC_DC_DIFFER || r.cls == SC_DC_NON_JSON_DIFFER || r.n) abort();
  struct sc_decision d;
  sc_extract_decision(&cfg, pa.json, &d);
  if (d.decision < -1 || d.decision > 1) abort();
out:
  sc_diff_result_release(&r);
  sc_parsed_release(&pa);
  sc_parsed_release(&pb);
  return 0;
}

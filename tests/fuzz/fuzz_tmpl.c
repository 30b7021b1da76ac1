/* fuzz_tmpl.c - libFuzzer target for src/report/tmpl.c (issue 7).
 * The first input byte picks a mode:
 *   even: the rest is a payload placed in a data value and rendered through
 *         fixed templates (text, attribute, section, partial); the rendered
 *         payload must contain no '<', '>', '"', '\'' or NUL (an unescaped
 *         '<' from captured data is a bug: abort);
 *   odd:  the rest is a template rendered over a data tree of hostile
 *         strings; must not crash, overread or leak (ASan/UBSan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/tmpl.h"

static const char *loader(void *ctx, const char *name) {
  (void)ctx;
  if (!strcmp(name, "p")) return "<td title=\"{{v}}\">{{v}}</td>";
  if (!strcmp(name, "rec")) return "{{>rec}}";
  return NULL;
}

static void check_payload(const char *out, size_t n, const char *pre, const char *post) {
  /* out = pre + escaped + post, possibly repeated: check between markers. */
  size_t lp = strlen(pre), lq = strlen(post);
  if (n < lp + lq || memcmp(out, pre, lp)) abort();
  for (size_t i = lp; i + lq < n; i++) {
    char c = out[i];
    if (c == '<' || c == '>' || c == '"' || c == '\'' || c == '\0') abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int mode = data[0] & 1;
  const char *rest = (const char *)data + 1;
  size_t n = size - 1;
  struct sc_tmpl_env env = {loader, NULL, NULL, 0};
  struct sc_error err;
  struct sc_buf out;
  sc_buf_init(&out, 1u << 22);
  json_t *d = json_object();
  if (!d) return 0;
  if (mode == 0) {
    json_object_set_new(d, "v", json_stringn_nocheck(rest, n));
    json_t *arr = json_array();
    json_array_append_new(arr, json_stringn_nocheck(rest, n));
    json_object_set_new(d, "l", arr);
    static const char *const tmpls[] = {"X{{v}}Y", "X{{#l}}{{.}}{{/l}}Y", "X{{#v}}{{v}}{{/v}}Y"};
    for (size_t i = 0; i < sizeof tmpls / sizeof tmpls[0]; i++) {
      sc_buf_reset(&out);
      if (sc_tmpl_render(&out, "fuzz", tmpls[i], d, &env, &err) == 0) check_payload(out.p, out.len, "X", "Y");
    }
  } else {
    char *t = malloc(n + 1);
    if (t) {
      memcpy(t, rest, n);
      t[n] = '\0';
      json_object_set_new(d, "v", json_string("<script>alert(1)</script>"));
      json_object_set_new(d, "l", json_pack("[s,i,f,b,{s:s}]", "\"><img src=x onerror=alert(1)>", 3, 1.5, 1,
                                            "v", "<x>"));
      json_object_set_new(d, "o", json_pack("{s:{s:s}}", "a", "b", "'\"&"));
      struct sc_tmpl_raw raw[] = {{"svg", "<svg/>"}};
      env.raw = raw;
      env.nraw = 1;
      if (sc_tmpl_render(&out, "fuzz", t, d, &env, &err)) { /* a syntax error is a documented outcome */ }
      free(t);
    }
  }
  json_decref(d);
  sc_buf_release(&out);
  return 0;
}

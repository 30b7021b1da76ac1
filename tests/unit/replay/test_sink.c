/* test_sink.c - replay/sink.c header JSON: the hand-written builders must
 * print exactly what jansson's json_dumps(JSON_COMPACT) printed for the same
 * [name, value] arrays (the headers columns keep their bytes), including
 * escapes, every control byte, UTF-8 of each length, and NULL for what
 * jansson refuses (invalid UTF-8: overlong forms, surrogates, past U+10FFFF,
 * cut sequences, stray continuation bytes). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "replay/sink.h"

/* jansson's text for [[a, b]] (NULL when it refuses). */
static char *ref_pair(const char *a, size_t an, const char *b, size_t bn) {
  json_t *arr = json_array(), *pair = json_array();
  json_array_append_new(pair, json_stringn_nocheck(a, an));
  json_array_append_new(pair, json_stringn_nocheck(b, bn));
  json_array_append_new(arr, pair);
  char *s = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return s;
}

/* ours for [[a, b]] through rp_headers_json ("a\0b\0") */
static const char *ours_pair(struct sc_buf *o, struct sc_buf *raw, const char *a, size_t an, const char *b,
                             size_t bn) {
  sc_buf_reset(raw);
  cr_assert_eq(sc_buf_append(raw, a, an), SC_OK);
  cr_assert_eq(sc_buf_putc(raw, '\0'), SC_OK);
  cr_assert_eq(sc_buf_append(raw, b, bn), SC_OK);
  cr_assert_eq(sc_buf_putc(raw, '\0'), SC_OK);
  const char *ct = NULL;
  return rp_headers_json(o, raw, &ct);
}

static void same(const char *s, size_t n) {
  struct sc_buf o, raw;
  sc_buf_init(&o, 1 << 20);
  sc_buf_init(&raw, 1 << 20);
  char *want = ref_pair("X-Name", 6, s, n);
  /* through the response builder (raw form "name\0value\0": no NUL inside) */
  if (!memchr(s, '\0', n)) {
    const char *got = ours_pair(&o, &raw, "X-Name", 6, s, n);
    if (!want) cr_assert_null(got, "jansson refused but we printed %s", got);
    else {
      cr_assert_not_null(got, "we refused what jansson printed as %s", want);
      cr_assert_str_eq(got, want);
    }
  }
  /* the string writer alone (o unchanged on refusal) */
  sc_buf_reset(&o);
  cr_assert_eq(sc_buf_puts(&o, "[[\"X-Name\","), SC_OK);
  int rc = rp_json_str(&o, s, n);
  if (!want) {
    cr_assert_eq(rc, SC_EINVAL);
    cr_assert_str_eq(o.p, "[[\"X-Name\",");
  } else {
    cr_assert_eq(rc, SC_OK);
    cr_assert_eq(sc_buf_puts(&o, "]]"), SC_OK);
    cr_assert_str_eq(o.p, want);
  }
  free(want);
  sc_buf_release(&o);
  sc_buf_release(&raw);
}

#define SAME(lit) same((lit), sizeof(lit) - 1)

Test(sink_json, escapes_and_utf8_match_jansson) {
  SAME("");
  SAME("plain value 1.0; q=0.5");
  SAME("quote \" backslash \\ slash / del \x7f");
  SAME("tab\there cr\r lf\n bs\b ff\f");
  for (int c = 1; c < 0x20; c++) {
    char s[3] = {'a', (char)c, 'b'};
    same(s, 3);
  }
  same("a\0b", 3);               /* NUL inside a request header value */
  SAME("caf\xc3\xa9");           /* 2 bytes */
  SAME("\xe2\x82\xac euro");     /* 3 bytes */
  SAME("\xf0\x9f\x98\x80 emoji"); /* 4 bytes, not escaped */
  SAME("\xef\xbf\xbf \xf4\x8f\xbf\xbf"); /* U+FFFF, U+10FFFF */
  /* refused */
  SAME("\x80");                  /* stray continuation */
  SAME("\xc0\xaf");              /* overlong */
  SAME("\xc1\xbf");
  SAME("\xe0\x80\xaf");          /* overlong 3 */
  SAME("\xf0\x80\x80\xaf");      /* overlong 4 */
  SAME("\xed\xa0\x80");          /* surrogate */
  SAME("\xf4\x90\x80\x80");      /* past U+10FFFF */
  SAME("\xf5\x80\x80\x80");
  SAME("\xff");
  SAME("ok \xc3");               /* cut */
  SAME("ok \xe2\x82");
  SAME("\xc3\x28");              /* bad continuation */
}

Test(sink_json, random_bytes_match_jansson) {
  srand(12345);
  static const unsigned char pool[] = {'a', 'Z', ' ', '"', '\\', '/', 0, 1, 0x1f, 0x7f, 0x80, 0xbf, 0xc2, 0xc3,
                                       0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xa0, 0x9f, 0x8f, 0x90};
  char s[16];
  for (int i = 0; i < 20000; i++) {
    size_t n = (size_t)(rand() % (int)sizeof s);
    for (size_t k = 0; k < n; k++) s[k] = (char)pool[rand() % (int)sizeof pool];
    same(s, n);
  }
}

Test(sink_json, response_headers_and_content_type) {
  static const char raw_bytes[] = "Server\0nginx\0content-type\0application/json; charset=utf-8\0X-Q\0a\"b\0";
  struct sc_buf raw, o;
  sc_buf_init(&raw, 4096);
  sc_buf_init(&o, 4096);
  cr_assert_eq(sc_buf_append(&raw, raw_bytes, sizeof raw_bytes - 1), SC_OK);
  const char *ct = NULL;
  const char *got = rp_headers_json(&o, &raw, &ct);
  cr_assert_str_eq(got, "[[\"Server\",\"nginx\"],[\"content-type\",\"application/json; charset=utf-8\"],"
                        "[\"X-Q\",\"a\\\"b\"]]");
  cr_assert_str_eq(ct, "application/json; charset=utf-8");
  /* no headers at all */
  sc_buf_reset(&raw);
  got = rp_headers_json(&o, &raw, &ct);
  cr_assert_str_eq(got, "[]");
  cr_assert_null(ct);
  /* invalid UTF-8 in one value: no JSON, the content type is still found */
  static const char bad[] = "Content-Type\0text/plain\0X-Bin\0\xff\0";
  cr_assert_eq(sc_buf_append(&raw, bad, sizeof bad - 1), SC_OK);
  cr_assert_null(rp_headers_json(&o, &raw, &ct));
  cr_assert_str_eq(ct, "text/plain");
  sc_buf_release(&raw);
  sc_buf_release(&o);
}

Test(sink_json, request_headers_as_sent) {
  static const char req_bytes[] = "POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-A:  spaced\t\r\n"
                                  "NoColonLine\r\nContent-Length: 2\r\n\r\n{}";
  struct sc_buf req, o;
  sc_buf_init(&req, 4096);
  sc_buf_init(&o, 4096);
  cr_assert_eq(sc_buf_append(&req, req_bytes, sizeof req_bytes - 1), SC_OK);
  const char *got = rp_request_headers_json(&o, &req);
  cr_assert_str_eq(got, "[[\"Host\",\"127.0.0.1:8080\"],[\"X-A\",\"spaced\\t\"],[\"Content-Length\",\"2\"]]");
  sc_buf_reset(&req);
  cr_assert_eq(sc_buf_puts(&req, "GET / HTTP/1.1"), SC_OK);
  cr_assert_null(rp_request_headers_json(&o, &req));
  sc_buf_release(&req);
  sc_buf_release(&o);
}

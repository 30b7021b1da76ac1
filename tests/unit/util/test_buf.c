/* test_buf.c - src/util/buf.c: capped buffers keep their invariants. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

Test(buf, init_is_empty_and_terminated) {
  struct sc_buf b;
  sc_buf_init(&b, 16);
  cr_assert_not_null(b.p);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(b.p[0], '\0');
  sc_buf_release(&b);
}

Test(buf, append_past_cap_fails_and_leaves_buffer_unchanged) {
  struct sc_buf b;
  sc_buf_init(&b, 8);
  cr_assert_eq(sc_buf_puts(&b, "12345"), SC_OK);
  cr_assert_eq(sc_buf_puts(&b, "6789"), SC_ETOOBIG);
  cr_assert_str_eq(b.p, "12345");
  cr_assert_eq(sc_buf_puts(&b, "678"), SC_OK);
  cr_assert_str_eq(b.p, "12345678");
  cr_assert_eq(sc_buf_putc(&b, 'x'), SC_ETOOBIG);
  sc_buf_release(&b);
}

Test(buf, printf_long_and_take) {
  struct sc_buf b;
  sc_buf_init(&b, 4096);
  char big[600];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  cr_assert_eq(sc_buf_printf(&b, "%s-%d", big, 42), SC_OK);
  cr_assert_eq(b.len, 599 + 3);
  size_t n = 0;
  char *s = sc_buf_take(&b, &n);
  cr_assert_eq(n, 602);
  cr_assert_str_eq(s + 599, "-42");
  cr_assert_eq(b.len, 0);
  cr_assert_eq(b.p[0], '\0');
  free(s);
}

Test(buf, consume_front) {
  struct sc_buf b;
  sc_buf_init(&b, 64);
  cr_assert_eq(sc_buf_puts(&b, "hello world"), SC_OK);
  sc_buf_consume(&b, 6);
  cr_assert_str_eq(b.p, "world");
  sc_buf_consume(&b, 100);
  cr_assert_eq(b.len, 0);
  sc_buf_release(&b);
}

Test(slice, case_insensitive_compare) {
  struct sc_slice s = {"Content-Length", 14};
  cr_assert(sc_slice_case_eq(s, "content-length"));
  cr_assert(!sc_slice_eq(s, "content-length"));
  cr_assert(!sc_slice_case_eq(s, "content-lengt"));
}

Test(err, names_and_messages) {
  struct sc_error e;
  sc_error_init(&e);
  cr_assert_eq(sc_error_set(&e, SC_ETRUNC, "file '%s' cut at %d", "x", 7), SC_ETRUNC);
  cr_assert_str_eq(e.msg, "file 'x' cut at 7");
  cr_assert_str_eq(sc_err_name(SC_ETRUNC), "SC_ETRUNC");
  cr_assert_str_eq(sc_strerror(SC_ETRUNC), "truncated input");
  sc_error_prefix(&e, "reading");
  cr_assert_str_eq(e.msg, "reading: file 'x' cut at 7");
}

/* sc_fmt_hex64 is "%016llx": zero-padded, lower case, every nibble. */
Test(buf, fmt_hex64_matches_printf) {
  static const unsigned long long v[] = {0, 1, 0xf, 0x10, 0xdeadbeefull, 0x0123456789abcdefull,
                                         0xfedcba9876543210ull, 0x8000000000000000ull, ~0ull};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char got[17], want[17];
    memset(got, 'x', sizeof got);
    sc_fmt_hex64(got, v[i]);
    snprintf(want, sizeof want, "%016llx", v[i]);
    cr_assert_str_eq(got, want);
  }
}

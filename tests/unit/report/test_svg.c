/* test_svg.c - src/report/svg.c: well-formed charts with escaped labels. */
#include <criterion/criterion.h>
#include <string.h>

#include "report/svg.h"

static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

Test(svg, cdf_two_series_escaped_legend) {
  double a[100], b[50];
  for (int i = 0; i < 100; i++) a[i] = 100 - i;
  for (int i = 0; i < 50; i++) b[i] = 2.0 * i;
  struct sc_svg_series s[] = {{"current", a, 100}, {"<script>x</script>", b, 50}, {"empty", NULL, 0}};
  struct sc_buf o;
  sc_buf_init(&o, 1 << 20);
  cr_assert_eq(sc_svg_cdf(&o, "Latency <CDF>", s, 3, "latency (ms)"), 0);
  cr_assert(!strncmp(o.p, "<svg ", 5));
  cr_assert(strstr(o.p, "</svg>"));
  cr_assert_null(strstr(o.p, "<script"));
  cr_assert(strstr(o.p, "&lt;script&gt;x&lt;/script&gt;"));
  cr_assert(strstr(o.p, "Latency &lt;CDF&gt;"));
  cr_assert_eq(count(o.p, "stroke-width=\"1.5\""), 2); /* two non-empty lines */
  cr_assert_eq(count(o.p, "<svg"), count(o.p, "</svg>"));
  sc_buf_release(&o);
}

Test(svg, histogram_bars) {
  double c[] = {1, 5, 0, 2};
  struct sc_buf o;
  sc_buf_init(&o, 1 << 20);
  cr_assert_eq(sc_svg_histogram(&o, "Score delta", -1, 1, c, 4, "delta"), 0);
  cr_assert_eq(count(o.p, "fill=\"#1f77b4\""), 4);
  cr_assert_eq(count(o.p, "<title>"), 5);
  sc_buf_release(&o);
}

Test(svg, timeline_colours_by_verdict) {
  struct sc_svg_step st[] = {{0.01, 100, "pass"}, {0.05, 200, "fail"}, {0.25, 0, NULL}};
  struct sc_buf o;
  sc_buf_init(&o, 1 << 20);
  cr_assert_eq(sc_svg_timeline(&o, "Steps", st, 3), 0);
  cr_assert(strstr(o.p, "#2ca02c"));
  cr_assert(strstr(o.p, "#d62728"));
  cr_assert(strstr(o.p, "step 2: 5% fail"));
  sc_buf_release(&o);
}

Test(svg, cap_reported) {
  double a[10] = {0};
  struct sc_svg_series s[] = {{"a", a, 10}};
  struct sc_buf o;
  sc_buf_init(&o, 64);
  cr_assert_eq(sc_svg_cdf(&o, "t", s, 1, "x"), SC_ETOOBIG);
  sc_buf_release(&o);
}

/*
 * html.c - the self-contained HTML report: reports/templates/report.html.tmpl
 * (+ partials, style.css inlined) rendered over the model, with the charts
 * generated here as inline SVG (the only raw blocks). Stage: report.
 * Reference: issue 5 (sections), HTML Living Standard, report/tmpl.h.
 */
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

#include "report/svg.h"
#include "report/tmpl.h"
#include "util/embed.h"

SC_EMBED_DECLARE(sc_embed_report_html_tmpl);
SC_EMBED_DECLARE(sc_embed_style_css);
SC_EMBED_DECLARE(sc_embed_criteria_html_tmpl);
SC_EMBED_DECLARE(sc_embed_examples_html_tmpl);

static const char *loader(void *ctx, const char *name) {
  (void)ctx;
  if (!strcmp(name, "criteria")) return sc_embed_criteria_html_tmpl;
  if (!strcmp(name, "examples")) return sc_embed_examples_html_tmpl;
  return NULL;
}

#define NBINS 40

int sc_report_html(const struct sc_report *r, struct sc_buf *out, struct sc_error *err) {
  struct sc_buf cdf, hist, steps, css;
  sc_buf_init(&cdf, 4u << 20);
  sc_buf_init(&hist, 1u << 20);
  sc_buf_init(&steps, 1u << 20);
  sc_buf_init(&css, 1u << 20);
  int rc = SC_OK;
  json_t *m = r->model;

  /* CSS is ours, but it is still checked: it must not close the element. */
  if (strstr(sc_embed_style_css, "</")) {
    rc = sc_error_set(err, SC_EINTERNAL, "style.css must not contain '</'");
    goto out;
  }
  rc = sc_buf_puts(&css, sc_embed_style_css);
  if (rc) goto oom;

  struct sc_svg_series series[3];
  size_t ns = 0;
  static const char *const names[3] = {"current", "candidate", "secondary"};
  for (int k = 0; k < 3; k++)
    if (r->nlat[k]) series[ns++] = (struct sc_svg_series){names[k], r->lat[k], r->nlat[k]};
  if (ns) {
    rc = sc_svg_cdf(&cdf, "Latency CDF per target", series, ns, "latency (ms)");
    if (rc) goto oom;
  }
  if (r->nscore_delta) {
    double lo = 0, hi = 0, counts[NBINS] = {0};
    for (size_t i = 0; i < r->nscore_delta; i++) {
      double v = r->score_delta[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    for (size_t i = 0; i < r->nscore_delta; i++) {
      double x = (r->score_delta[i] - lo) / (hi - lo) * NBINS;  /* NaN when the range overflows */
      size_t b = !(x >= 0) ? 0 : x >= NBINS ? NBINS - 1 : (size_t)x;
      counts[b] += 1;
    }
    rc = sc_svg_histogram(&hist, "Score delta (candidate - current)", lo, hi, counts, NBINS, "score delta");
    if (rc) goto oom;
  }
  json_t *st = json_object_get(m, "steps");
  if (json_array_size(st)) {
    size_t n = json_array_size(st);
    struct sc_svg_step *ss = calloc(n, sizeof *ss);
    if (!ss) { rc = SC_ENOMEM; goto oom; }
    for (size_t i = 0; i < n; i++) {
      json_t *s = json_array_get(st, i);
      ss[i].fraction = json_number_value(json_object_get(s, "fraction"));
      ss[i].exchanges = json_integer_value(json_object_get(s, "exchanges"));
      ss[i].verdict = json_string_value(json_object_get(s, "verdict"));
    }
    rc = sc_svg_timeline(&steps, "Progressive canary steps", ss, n);
    free(ss);
    if (rc) goto oom;
  }
  {
    struct sc_tmpl_raw raw[] = {
      {"style", css.p},
      {"latency_chart", cdf.p},
      {"score_hist", hist.p},
      {"step_chart", steps.p},
    };
    struct sc_tmpl_env env = {loader, NULL, raw, sizeof raw / sizeof raw[0]};
    rc = sc_tmpl_render(out, "report.html.tmpl", sc_embed_report_html_tmpl, m, &env, err);
  }
  goto out;
oom:
  rc = sc_error_set(err, rc, "cannot render charts: %s", sc_strerror(rc));
out:
  sc_buf_release(&cdf);
  sc_buf_release(&hist);
  sc_buf_release(&steps);
  sc_buf_release(&css);
  return rc;
}

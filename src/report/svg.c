/*
 * svg.c - latency CDF, histogram and step timeline as inline SVG. Stage:
 * report. Reference: SVG 1.1 (W3C), paths and text; see svg.h. Charts use a
 * viewBox so they scale to the page width (phone and desktop) and print.
 */
#include "report/svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/tmpl.h"

#define W 640.0
#define H 240.0
#define ML 56.0  /* margins: left, right, top, bottom */
#define MR 16.0
#define MT 28.0
#define MB 40.0

static const char *const COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int text(struct sc_buf *o, double x, double y, const char *anchor, const char *cls,
                const char *s) {
  int rc = sc_buf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">", x, y,
                         anchor, cls);
  if (!rc) rc = sc_tmpl_escape_html(o, s ? s : "", s ? strlen(s) : 0);
  if (!rc) rc = sc_buf_puts(o, "</text>");
  return rc;
}

static int open_svg(struct sc_buf *o, const char *title) {
  int rc = sc_buf_printf(o,
                         "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
                         "class=\"chart\" role=\"img\" aria-label=\"",
                         W, H);
  if (!rc) rc = sc_tmpl_escape_html(o, title, strlen(title));
  if (!rc) rc = sc_buf_puts(o, "\"><title>");
  if (!rc) rc = sc_tmpl_escape_html(o, title, strlen(title));
  if (!rc) rc = sc_buf_puts(o, "</title>");
  if (!rc) rc = text(o, ML, 16, "start", "ct", title);
  return rc;
}

/* Axes with 5 ticks on each; x in [x0,x1], y in [y0,y1]. */
static int axes(struct sc_buf *o, double x0, double x1, double y0, double y1, const char *xlabel,
                const char *yfmt) {
  int rc = sc_buf_printf(o,
                         "<path d=\"M%.1f %.1fV%.1fH%.1f\" class=\"ax\" fill=\"none\" "
                         "stroke=\"#555\"/>",
                         ML, MT, H - MB, W - MR);
  for (int i = 0; i <= 4 && !rc; i++) {
    double fx = ML + (W - ML - MR) * i / 4.0, fy = H - MB - (H - MT - MB) * i / 4.0;
    char lab[32];
    snprintf(lab, sizeof lab, "%.3g", x0 + (x1 - x0) * i / 4.0);
    rc = text(o, fx, H - MB + 14, "middle", "tk", lab);
    if (!rc) {
      snprintf(lab, sizeof lab, yfmt, y0 + (y1 - y0) * i / 4.0);
      rc = text(o, ML - 4, fy + 4, "end", "tk", lab);
    }
    if (!rc && i > 0)
      rc = sc_buf_printf(o, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#ddd\" stroke-width=\"0.5\"/>",
                         ML, fy, W - MR);
  }
  if (!rc) rc = text(o, ML + (W - ML - MR) / 2, H - 6, "middle", "al", xlabel);
  return rc;
}

int sc_svg_cdf(struct sc_buf *o, const char *title, const struct sc_svg_series *s, size_t ns,
               const char *xlabel) {
  int rc = SC_OK;
  double **sorted = calloc(ns ? ns : 1, sizeof *sorted);
  if (!sorted) return SC_ENOMEM;
  double xmax = 0;
  for (size_t k = 0; k < ns; k++) {
    if (!s[k].n) continue;
    sorted[k] = malloc(s[k].n * sizeof(double));
    if (!sorted[k]) { rc = SC_ENOMEM; goto out; }
    memcpy(sorted[k], s[k].values, s[k].n * sizeof(double));
    qsort(sorted[k], s[k].n, sizeof(double), cmp_double);
    size_t i999 = (size_t)floor(0.999 * (double)(s[k].n - 1));
    if (sorted[k][i999] > xmax) xmax = sorted[k][i999];
  }
  if (!(xmax > 0)) xmax = 1;
  rc = open_svg(o, title);
  if (!rc) rc = axes(o, 0, xmax, 0, 1, xlabel, "%.2f");
  for (size_t k = 0; k < ns && !rc; k++) {
    const char *col = COLORS[k % (sizeof COLORS / sizeof COLORS[0])];
    size_t n = s[k].n;
    if (n) {
      rc = sc_buf_printf(o, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" d=\"M%.1f %.1f",
                         col, ML, H - MB);
      /* At most ~400 points: step through the sorted values. */
      size_t step = n > 400 ? n / 400 : 1;
      for (size_t i = 0; i < n && !rc; i += step) {
        double v = sorted[k][i] > xmax ? xmax : sorted[k][i];
        double x = ML + (W - ML - MR) * v / xmax;
        double y = H - MB - (H - MT - MB) * (double)(i + 1) / (double)n;
        rc = sc_buf_printf(o, "L%.1f %.1f", x, y);
      }
      if (!rc) rc = sc_buf_puts(o, "\"/>");
    }
    if (!rc)
      rc = sc_buf_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>",
                         W - MR - 150, MT + 8 + 16.0 * (double)k, col);
    if (!rc) rc = text(o, W - MR - 136, MT + 17 + 16.0 * (double)k, "start", "lg", s[k].name);
  }
  if (!rc) rc = sc_buf_puts(o, "</svg>");
out:
  for (size_t k = 0; k < ns; k++) free(sorted[k]);
  free(sorted);
  return rc;
}

int sc_svg_histogram(struct sc_buf *o, const char *title, double lo, double hi,
                     const double *counts, size_t nbins, const char *xlabel) {
  double cmax = 0;
  for (size_t i = 0; i < nbins; i++)
    if (counts[i] > cmax) cmax = counts[i];
  if (!(cmax > 0)) cmax = 1;
  int rc = open_svg(o, title);
  if (!rc) rc = axes(o, lo, hi, 0, cmax, xlabel, "%.0f");
  double bw = nbins ? (W - ML - MR) / (double)nbins : 0;
  for (size_t i = 0; i < nbins && !rc; i++) {
    double h = (H - MT - MB) * counts[i] / cmax;
    rc = sc_buf_printf(o,
                       "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                       "fill=\"#1f77b4\"><title>%.0f</title></rect>",
                       ML + bw * (double)i + 0.5, H - MB - h, bw > 1 ? bw - 1 : bw, h, counts[i]);
  }
  if (!rc) rc = sc_buf_puts(o, "</svg>");
  return rc;
}

static const char *verdict_color(const char *v) {
  if (v && !strcmp(v, "pass")) return "#2ca02c";
  if (v && !strcmp(v, "fail")) return "#d62728";
  if (v && !strcmp(v, "inconclusive")) return "#ff9f0e";
  return "#999";
}

int sc_svg_timeline(struct sc_buf *o, const char *title, const struct sc_svg_step *st, size_t n) {
  long long total = 0;
  for (size_t i = 0; i < n; i++) total += st[i].exchanges > 0 ? st[i].exchanges : 0;
  int rc = open_svg(o, title);
  if (!rc) rc = axes(o, 0, (double)total, 0, 100, "exchanges replayed", "%.0f%%");
  double x = ML;
  for (size_t i = 0; i < n && !rc; i++) {
    long long ex = st[i].exchanges > 0 ? st[i].exchanges : 0;
    double w = total > 0 ? (W - ML - MR) * (double)ex / (double)total : (W - ML - MR) / (double)n;
    double f = st[i].fraction < 0 ? 0 : st[i].fraction > 1 ? 1 : st[i].fraction;
    double h = (H - MT - MB) * f;
    if (h < 2) h = 2;
    rc = sc_buf_printf(o,
                       "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
                       x + 0.5, H - MB - h, w > 1 ? w - 1 : w, h, verdict_color(st[i].verdict));
    char lab[96];
    snprintf(lab, sizeof lab, "step %zu: %.3g%% %s", i + 1, f * 100, st[i].verdict ? st[i].verdict : "");
    if (!rc) rc = text(o, x + w / 2, H - MB - h - 4, "middle", "tk", lab);
    x += w;
  }
  if (!rc) rc = sc_buf_puts(o, "</svg>");
  return rc;
}

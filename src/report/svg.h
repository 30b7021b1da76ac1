/*
 * svg.h - inline SVG charts for the HTML report (no script, no external
 * reference). Stage: report. Every text label that may carry data (target
 * names, step labels) is HTML-escaped by these functions, so their output is
 * trusted raw text for sc_tmpl ({{&name}}).
 */
#ifndef SC_REPORT_SVG_H
#define SC_REPORT_SVG_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

/* One line of a CDF chart: values (any order; the chart sorts a copy). */
struct sc_svg_series {
  const char *name;      /* legend; escaped */
  const double *values;  /* borrowed */
  size_t n;
};

/* Empirical CDF of each series, x from 0 to the largest p99.9 (values past
 * it are clipped), y 0..1. xlabel e.g. "latency (ms)". Empty series draw
 * nothing but still get a legend entry. Returns SC_OK, SC_ENOMEM, SC_ETOOBIG. */
int sc_svg_cdf(struct sc_buf *out, const char *title, const struct sc_svg_series *s, size_t ns,
               const char *xlabel) SC_MUST_CHECK;

/* Histogram: nbins bars, bin i spans [lo + i*w, lo + (i+1)*w), counts[i]. */
int sc_svg_histogram(struct sc_buf *out, const char *title, double lo, double hi,
                     const double *counts, size_t nbins, const char *xlabel) SC_MUST_CHECK;

/* Step timeline of a progressive canary: one bar per step, width by
 * exchanges, height by fraction, colour by verdict ("pass", "fail",
 * "inconclusive", else grey). */
struct sc_svg_step {
  double fraction;      /* 0..1 */
  long long exchanges;
  const char *verdict;  /* may be NULL */
};
int sc_svg_timeline(struct sc_buf *out, const char *title, const struct sc_svg_step *steps,
                    size_t n) SC_MUST_CHECK;

#endif

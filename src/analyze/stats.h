/*
 * stats.h - the statistics of the analysis: quantiles, Wilson and Newcombe
 * intervals, two-proportion z test, McNemar, Mann-Whitney U, Wilcoxon
 * signed-rank, seeded bootstrap, minimum detectable effects, Holm and
 * Benjamini-Hochberg corrections. Stage: analyze. Pure functions, no I/O.
 * References are given at each function (and checked in
 * tests/unit/analyze/test_stats.c against published worked examples).
 */
#ifndef SC_ANALYZE_STATS_H
#define SC_ANALYZE_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Standard normal CDF and quantile (Acklam's rational approximation refined
 * by one Halley step; |error| < 1e-12). */
double sc_stats_norm_cdf(double z);
double sc_stats_norm_quantile(double p);
/* Upper tail of chi-square with 1 degree of freedom. */
double sc_stats_chi2_1_sf(double x);

/* Quantile of sorted data, Hyndman & Fan type 7 (R default, linear
 * interpolation between order statistics). n > 0. */
double sc_stats_quantile_sorted(const double *sorted, size_t n, double q);
/* Same on unsorted data; reorders x (quickselect), O(n). */
double sc_stats_quantile_select(double *x, size_t n, double q);
void sc_stats_sort(double *x, size_t n);

/* Wilson score interval for k successes in n trials (Wilson 1927; Newcombe
 * 1998 method 3). z = normal quantile (1.959964 for 95%). n = 0 gives [0, 1]. */
void sc_stats_wilson(int64_t k, int64_t n, double z, double *lo, double *hi);

/* Newcombe's hybrid score interval for p1 - p2 of independent proportions
 * (Newcombe 1998, "Interval estimation for the difference between
 * independent proportions", method 10). */
void sc_stats_newcombe_diff(int64_t k1, int64_t n1, int64_t k2, int64_t n2, double z, double *lo,
                            double *hi);

/* Two-proportion z test, pooled standard error: z = (p1-p2)/sqrt(p(1-p)(1/n1+1/n2)).
 * Returns the two-sided p-value; *z gets the statistic (0 when undefined). */
double sc_stats_two_prop_z(int64_t k1, int64_t n1, int64_t k2, int64_t n2, double *z);

/* One-sided test of H1: p1 - p2 > margin (unpooled SE; n2 = 0 means p2 is
 * known to be 0). Returns the p-value. */
double sc_stats_prop_excess_p(int64_t k1, int64_t n1, int64_t k2, int64_t n2, double margin);

/* McNemar's test on the discordant counts b and c (McNemar 1947).
 * chi2 = (b-c)^2/(b+c) without continuity correction; the p-value is exact
 * (two-sided binomial, mid-p not used) when b+c < 25, else chi-square 1 df. */
double sc_stats_mcnemar(int64_t b, int64_t c, double *chi2);

struct sc_mwu {
  double u1;       /* U of sample x: pairs (x_i, y_j) with x_i > y_j, ties 1/2 */
  double u2;       /* nx*ny - u1 */
  double z;        /* normal approximation with tie correction, continuity corrected */
  double p;        /* two-sided */
  double cles;     /* u1 / (nx*ny): P(X > Y) + 0.5 P(X = Y) (common-language effect size) */
  double rbc;      /* rank-biserial correlation 2*cles - 1 */
};
/* Mann-Whitney U test (Mann & Whitney 1947). x and y are not modified.
 * Returns 0, or SC_ENOMEM / SC_EINVAL (an empty sample). */
int sc_stats_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, struct sc_mwu *out);

struct sc_wsr {
  size_t n;        /* non-zero differences */
  double w_plus, w_minus;
  double w;        /* w_plus - w_minus (sum of signed ranks) */
  double z, p;     /* normal approximation with tie correction, two-sided */
};
/* Wilcoxon signed-rank test on differences d (zeros dropped, average ranks
 * for ties; Wilcoxon 1945). d is not modified. Returns 0 or SC_ENOMEM. */
int sc_stats_wilcoxon(const double *d, size_t n, struct sc_wsr *out);

/* Deterministic RNG (splitmix64-seeded xoshiro256**). */
struct sc_rng {
  uint64_t s[4];
};
void sc_rng_seed(struct sc_rng *r, uint64_t seed);
uint64_t sc_rng_next(struct sc_rng *r);
/* Uniform integer in [0, n) (Lemire's multiply-shift, unbiased). */
uint64_t sc_rng_below(struct sc_rng *r, uint64_t n);

/* Bootstrap percentile interval of stat(a)/stat(b) or stat(a)-stat(b) where
 * stat is quantile q (q < 0: the mean). paired: resample indices jointly
 * (a and b of equal length n); else resample each independently.
 * ratio: 1 for a ratio, 0 for a difference. iters resamples (>= 20).
 * Returns 0 or SC_ENOMEM / SC_EINVAL. *est gets the point estimate. */
int sc_stats_bootstrap(const double *a, size_t na, const double *b, size_t nb, double q, int paired,
                       int ratio, unsigned iters, double alpha, uint64_t seed, double *est, double *lo,
                       double *hi);

/* Several quantiles in one pass: out[k] gets quantile qs[k] (type 7) of x;
 * reorders x. qs in any order; nq <= 16. */
void sc_stats_quantiles_select(double *x, size_t n, const double *qs, size_t nq, double *out);

/* Bootstrap of quantile ratios and differences (a against b) for several
 * quantiles from the same resamples (one resample serves every quantile,
 * both as a ratio and as a difference). nq <= 16. */
struct sc_boot_q {
  double ratio, ratio_lo, ratio_hi;
  double delta, delta_lo, delta_hi;
};
int sc_stats_bootstrap_quantiles(const double *a, size_t na, const double *b, size_t nb, const double *qs,
                                 size_t nq, int paired, unsigned iters, double alpha, uint64_t seed,
                                 struct sc_boot_q *out);

/* Minimum detectable difference of a proportion near p with n samples per
 * group (unpaired: two groups of n1, n2) at level alpha and power:
 * (z_{1-alpha/2} + z_power) * sqrt(p~(1-p~)(1/n1 + 1/n2)), p~ = p clamped to
 * [3/n, 0.5] so a zero rate on few samples is not called precise. n2 = 0:
 * one sample. */
double sc_stats_mde_prop(double p, int64_t n1, int64_t n2, double alpha, double power);

/* Multiple-testing corrections in place on p[0..n): Holm (1979) step-down and
 * Benjamini-Hochberg (1995) step-up adjusted p-values. SC_ENOMEM or 0. */
int sc_stats_holm(double *p, size_t n);
int sc_stats_bh(double *p, size_t n);

#endif

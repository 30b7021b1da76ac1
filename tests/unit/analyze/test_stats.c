/* test_stats.c - src/analyze/stats.c checked against published worked
 * examples (sources cited at each test). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "analyze/stats.h"
#include "util/err.h"

#define Z95 1.959963985

Test(stats, normal_quantile_and_cdf) {
  cr_assert_float_eq(sc_stats_norm_quantile(0.975), Z95, 1e-8);
  cr_assert_float_eq(sc_stats_norm_quantile(0.8), 0.841621234, 1e-8);
  cr_assert_float_eq(sc_stats_norm_quantile(1e-10), -6.361340902, 1e-6);
  cr_assert_float_eq(sc_stats_norm_cdf(1.959963985), 0.975, 1e-9);
  for (double p = 0.001; p < 1; p += 0.0137)
    cr_assert_float_eq(sc_stats_norm_cdf(sc_stats_norm_quantile(p)), p, 1e-10);
}

/* Newcombe RG (1998), "Two-sided confidence intervals for the single
 * proportion: comparison of seven methods", Stat Med 17:857-872, Table II,
 * method 3 (Wilson score interval without continuity correction). */
Test(stats, wilson_newcombe_1998_table_ii) {
  static const struct { int64_t k, n; double lo, hi; } t[] = {
    {81, 263, 0.2553, 0.3662}, {15, 148, 0.0624, 0.1605}, {0, 20, 0.0, 0.1611}, {1, 29, 0.0061, 0.1718}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    double lo, hi;
    sc_stats_wilson(t[i].k, t[i].n, Z95, &lo, &hi);
    cr_expect_float_eq(lo, t[i].lo, 5e-5, "%lld/%lld lo %.5f", (long long)t[i].k, (long long)t[i].n, lo);
    cr_expect_float_eq(hi, t[i].hi, 5e-5, "%lld/%lld hi %.5f", (long long)t[i].k, (long long)t[i].n, hi);
  }
  double lo, hi;
  sc_stats_wilson(0, 0, Z95, &lo, &hi);
  cr_assert(lo == 0 && hi == 1);
}

/* Newcombe RG (1998), "Interval estimation for the difference between
 * independent proportions: comparison of eleven methods", Stat Med
 * 17:873-890, Table II, method 10 (hybrid score): 56/70 - 48/80 gives
 * 0.0524 to 0.3339; 9/10 - 3/10 gives 0.1705 to 0.8090. */
Test(stats, newcombe_difference_1998) {
  double lo, hi;
  sc_stats_newcombe_diff(56, 70, 48, 80, Z95, &lo, &hi);
  cr_assert_float_eq(lo, 0.0524, 5e-5);
  cr_assert_float_eq(hi, 0.3339, 5e-5);
  sc_stats_newcombe_diff(9, 10, 3, 10, Z95, &lo, &hi);
  cr_assert_float_eq(lo, 0.1705, 5e-5);
  cr_assert_float_eq(hi, 0.8090, 5e-5);
}

/* Two-proportion z test. Agresti, "Categorical Data Analysis" (2nd ed.),
 * section 2.1 / 3.2: Physicians' Health Study, myocardial infarction with
 * placebo 189/11034 and with aspirin 104/11037; Pearson X^2 = 25.01, and
 * the pooled two-proportion z is its square root. */
Test(stats, two_proportion_z_agresti_aspirin) {
  double z;
  double p = sc_stats_two_prop_z(189, 11034, 104, 11037, &z);
  cr_assert_float_eq(z * z, 25.01, 0.005);
  cr_assert_lt(p, 1e-4);
  cr_assert_gt(z, 0);
  /* symmetry and degenerate inputs */
  double z2;
  cr_assert_float_eq(sc_stats_two_prop_z(104, 11037, 189, 11034, &z2), p, 1e-15);
  cr_assert_float_eq(z2, -z, 1e-12);
  cr_assert_eq(sc_stats_two_prop_z(0, 10, 0, 10, &z), 1.0);
  cr_assert_eq(sc_stats_two_prop_z(0, 0, 1, 10, &z), 1.0);
}

/* McNemar's test, Wikipedia "McNemar's test", worked example: discordant
 * cells b = 121 and c = 59 give chi^2 = (121-59)^2/(121+59) = 21.35, p < 0.001
 * (chi-square, 1 df: 3.8e-6). Small counts use the exact binomial test:
 * b = 1, c = 9 gives 2 * P(X <= 1 | n=10, 1/2) = 2 * 11/1024 = 0.02148. */
Test(stats, mcnemar_wikipedia) {
  double chi2;
  double p = sc_stats_mcnemar(121, 59, &chi2);
  cr_assert_float_eq(chi2, 21.3556, 1e-4);
  cr_assert_float_eq(p, 3.82e-6, 0.01e-6);
  p = sc_stats_mcnemar(1, 9, &chi2);
  cr_assert_float_eq(p, 22.0 / 1024, 1e-12);
  cr_assert_eq(sc_stats_mcnemar(0, 0, &chi2), 1.0);
  cr_assert_eq(sc_stats_mcnemar(5, 5, &chi2), 1.0);
}

/* Mann-Whitney U, Wikipedia "Mann-Whitney U test", illustration: a race
 * between 6 tortoises and 6 hares finishing in the order
 * T H H H H H T T T T T H. U counts, over all pairs, how often one group
 * finished ahead: U_T = 11 and U_H = 25. Here x holds the tortoises' finishing
 * positions, so u1 (x_i > y_j) = pairs where the hare was ahead = 25. */
Test(stats, mann_whitney_tortoise_and_hare) {
  double tort[] = {1, 7, 8, 9, 10, 11}, hare[] = {2, 3, 4, 5, 6, 12};
  struct sc_mwu m;
  cr_assert_eq(sc_stats_mann_whitney(tort, 6, hare, 6, &m), 0);
  cr_assert_float_eq(m.u1, 25, 1e-12);
  cr_assert_float_eq(m.u2, 11, 1e-12);
  cr_assert_float_eq(m.cles, 25.0 / 36, 1e-12);
  cr_assert_gt(m.p, 0.05); /* not significant at 5% (critical U for 6,6 is 5) */
  /* ties: identical samples give U = nx*ny/2 and p = 1 */
  double a[] = {1, 1, 2, 2}, b[] = {1, 2, 1, 2};
  cr_assert_eq(sc_stats_mann_whitney(a, 4, b, 4, &m), 0);
  cr_assert_float_eq(m.u1, 8, 1e-12);
  cr_assert_float_eq(m.p, 1.0, 1e-12);
  cr_assert_eq(sc_stats_mann_whitney(a, 0, b, 4, &m), SC_EINVAL);
}

/* Mann-Whitney normal approximation against a large shifted sample: a
 * location shift of one standard deviation is detected. */
Test(stats, mann_whitney_detects_shift) {
  size_t n = 2000;
  double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  struct sc_rng r;
  sc_rng_seed(&r, 7);
  for (size_t i = 0; i < n; i++) {
    x[i] = (double)(sc_rng_next(&r) >> 11) / 9007199254740992.0 + 0.3;
    y[i] = (double)(sc_rng_next(&r) >> 11) / 9007199254740992.0;
  }
  struct sc_mwu m;
  cr_assert_eq(sc_stats_mann_whitney(x, n, y, n, &m), 0);
  cr_assert_lt(m.p, 1e-10);
  /* P(U1+0.3 > U2) = 1 - 0.7^2/2 = 0.755 */
  cr_assert_float_eq(m.cles, 0.755, 0.02);
  free(x);
  free(y);
}

/* Wilcoxon signed-rank, Wikipedia "Wilcoxon signed-rank test", example with
 * 10 pairs (x1 = 125 115 130 140 140 115 140 125 140 135,
 * x2 = 110 122 125 120 140 124 123 137 135 145): one zero difference is
 * dropped (N_r = 9) and |W| = 9, below the critical value 35, so not
 * significant. */
Test(stats, wilcoxon_wikipedia) {
  double x1[] = {125, 115, 130, 140, 140, 115, 140, 125, 140, 135};
  double x2[] = {110, 122, 125, 120, 140, 124, 123, 137, 135, 145};
  double d[10];
  for (int i = 0; i < 10; i++) d[i] = x2[i] - x1[i];
  struct sc_wsr w;
  cr_assert_eq(sc_stats_wilcoxon(d, 10, &w), 0);
  cr_assert_eq(w.n, 9);
  cr_assert_float_eq(fabs(w.w), 9, 1e-12);
  cr_assert_float_eq(w.w_plus + w.w_minus, 45, 1e-12);
  cr_assert_gt(w.p, 0.05);
}

/* Hyndman & Fan (1996) type 7 (R's default): quantile(c(1,2,3,4,5,6,7,8,9,10), 0.9) = 9.1,
 * quantile(c(3,1,2), 0.5) = 2, quantile(1:4, 0.25) = 1.75. Quickselect agrees with sorting. */
Test(stats, quantiles_type7_and_select) {
  double a[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  cr_assert_float_eq(sc_stats_quantile_sorted(a, 10, 0.9), 9.1, 1e-12);
  double b[] = {1, 2, 3, 4};
  cr_assert_float_eq(sc_stats_quantile_sorted(b, 4, 0.25), 1.75, 1e-12);
  double c[] = {3, 1, 2};
  cr_assert_float_eq(sc_stats_quantile_select(c, 3, 0.5), 2, 1e-12);
  struct sc_rng r;
  sc_rng_seed(&r, 42);
  for (size_t n = 1; n < 300; n += 7) {
    double *x = malloc(n * sizeof *x), *s = malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++) x[i] = s[i] = (double)sc_rng_below(&r, 50); /* many ties */
    sc_stats_sort(s, n);
    static const double qs[] = {0, 0.01, 0.5, 0.9, 0.99, 0.999, 1};
    for (size_t k = 0; k < 7; k++) {
      for (size_t i = 0; i < n; i++) x[i] = s[(i * 7919) % n]; /* shuffled copy */
      if (n % 7919 == 0) continue;
      double want = sc_stats_quantile_sorted(s, n, qs[k]);
      cr_assert_float_eq(sc_stats_quantile_select(x, n, qs[k]), want, 1e-12, "n %zu q %g", n, qs[k]);
    }
    free(x);
    free(s);
  }
}

Test(stats, rng_is_seeded_and_uniform) {
  struct sc_rng a, b;
  sc_rng_seed(&a, 123);
  sc_rng_seed(&b, 123);
  for (int i = 0; i < 100; i++) cr_assert_eq(sc_rng_next(&a), sc_rng_next(&b));
  size_t counts[10] = {0};
  for (int i = 0; i < 100000; i++) counts[sc_rng_below(&a, 10)]++;
  for (int i = 0; i < 10; i++) cr_assert(counts[i] > 9500 && counts[i] < 10500, "bucket %d: %zu", i, counts[i]);
}

/* Bootstrap: reproducible with a seed; the interval covers the true p99
 * ratio of a planted 1.4x slowdown, and a paired bootstrap of identical
 * samples is exactly [1, 1]. */
Test(stats, bootstrap_ratio) {
  size_t n = 5000;
  double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  struct sc_rng r;
  sc_rng_seed(&r, 9);
  for (size_t i = 0; i < n; i++) {
    double u = (double)(sc_rng_next(&r) >> 11) / 9007199254740992.0;
    b[i] = 10000 + 5000 * u;
    a[i] = b[i] * 1.4;
  }
  double est, lo, hi, est2, lo2, hi2;
  cr_assert_eq(sc_stats_bootstrap(a, n, b, n, 0.99, 0, 1, 200, 0.05, 5, &est, &lo, &hi), 0);
  cr_assert_eq(sc_stats_bootstrap(a, n, b, n, 0.99, 0, 1, 200, 0.05, 5, &est2, &lo2, &hi2), 0);
  cr_assert(est == est2 && lo == lo2 && hi == hi2);
  cr_assert_float_eq(est, 1.4, 1e-9);
  cr_assert(lo < 1.4 && hi > 1.4 && lo > 1.3 && hi < 1.5, "[%g, %g]", lo, hi);
  cr_assert_eq(sc_stats_bootstrap(b, n, b, n, 0.99, 1, 1, 100, 0.05, 5, &est, &lo, &hi), 0);
  cr_assert(est == 1 && lo == 1 && hi == 1);
  cr_assert_eq(sc_stats_bootstrap(a, n, b, n - 1, 0.5, 1, 1, 100, 0.05, 5, &est, &lo, &hi), SC_EINVAL);
  free(a);
  free(b);
}

Test(stats, mde_shrinks_with_n) {
  double small = sc_stats_mde_prop(0, 20, 0, 0.05, 0.8);
  double big = sc_stats_mde_prop(0, 100000, 0, 0.05, 0.8);
  cr_assert_gt(small, 0.05); /* 20 samples cannot show a 5% flip rate is absent */
  cr_assert_lt(big, 0.001);
  /* (1.96 + 0.8416) * sqrt(0.5 * 0.5 * (2/100)) = 0.1981 */
  cr_assert_float_eq(sc_stats_mde_prop(0.5, 100, 100, 0.05, 0.8), 0.19809, 1e-4);
}

/* Holm (1979) and Benjamini & Hochberg (1995) on p = 0.01, 0.04, 0.03, 0.005:
 * Holm: sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.04,0.06)=0.06.
 * BH: sorted 0.005*4/1=0.02, 0.01*4/2=0.02, 0.03*4/3=0.04, 0.04*4/4=0.04. */
Test(stats, holm_and_bh) {
  double p[] = {0.01, 0.04, 0.03, 0.005};
  cr_assert_eq(sc_stats_holm(p, 4), 0);
  cr_assert_float_eq(p[0], 0.03, 1e-12);
  cr_assert_float_eq(p[1], 0.06, 1e-12);
  cr_assert_float_eq(p[2], 0.06, 1e-12);
  cr_assert_float_eq(p[3], 0.02, 1e-12);
  double q[] = {0.01, 0.04, 0.03, 0.005};
  cr_assert_eq(sc_stats_bh(q, 4), 0);
  cr_assert_float_eq(q[0], 0.02, 1e-12);
  cr_assert_float_eq(q[1], 0.04, 1e-12);
  cr_assert_float_eq(q[2], 0.04, 1e-12);
  cr_assert_float_eq(q[3], 0.02, 1e-12);
}

Test(stats, prop_excess) {
  /* 100% vs 100% (a field that always differs on both sides) is not an excess */
  cr_assert_eq(sc_stats_prop_excess_p(1000, 1000, 1000, 1000, 0.01), 1.0);
  cr_assert_lt(sc_stats_prop_excess_p(500, 1000, 10, 1000, 0.01), 1e-10);
  cr_assert_gt(sc_stats_prop_excess_p(12, 1000, 10, 1000, 0.01), 0.5);
}

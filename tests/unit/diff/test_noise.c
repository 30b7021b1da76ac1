/* test_noise.c - src/diff/noise.c: per-exchange counting and the noise
 * versus regression rule. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "diff/noise.h"

Test(noise, counts_once_per_exchange_and_pair) {
  struct sc_noise_map m;
  sc_noise_map_init(&m);
  size_t idx;
  int first;
  cr_assert_eq(sc_noise_count(&m, "$.items[*].w", 0, 1, &idx, &first), 0);
  cr_assert_eq(first, 1);
  cr_assert_eq(sc_noise_count(&m, "$.items[*].w", 0, 1, &idx, &first), 0);
  cr_assert_eq(first, 0);
  cr_assert_eq(sc_noise_count(&m, "$.items[*].w", 1, 1, &idx, &first), 0);
  cr_assert_eq(first, 1);
  cr_assert_eq(sc_noise_count(&m, "$.items[*].w", 0, 2, &idx, &first), 0);
  cr_assert_eq(m.v[idx].count[0], 2);
  cr_assert_eq(m.v[idx].count[1], 1);
  /* many keys: rehashing keeps every entry findable */
  char k[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(k, sizeof k, "$.k%d", i);
    cr_assert_eq(sc_noise_intern(&m, k, strlen(k), &idx), 0);
    cr_assert_eq(idx, (size_t)i + 1);
  }
  for (int i = 0; i < 5000; i += 97) {
    snprintf(k, sizeof k, "$.k%d", i);
    cr_assert_eq(sc_noise_intern(&m, k, strlen(k), &idx), 0);
    cr_assert_eq(idx, (size_t)i + 1);
  }
  cr_assert_eq(m.n, 5001);
  sc_noise_map_release(&m);
}

static const struct {
  int64_t diff, n, noise, noise_n;
  int regression, noisy;
} cases[] = {
  {1000, 1000, 1000, 1000, 0, 1},  /* request_id: differs everywhere, also between current and secondary */
  {1000, 1000, 0, 1000, 1, 0},     /* score changed by the candidate only */
  {95, 1000, 0, 1000, 1, 0},       /* decision flips on 9.5% */
  {12, 1000, 10, 1000, 0, 1},      /* as noisy as the noise */
  {5, 1000, 0, 1000, 0, 0},        /* 0.5% is under the 1% margin */
  {300, 1000, 250, 1000, 0, 1},    /* 5 points above noise but below margin+significance? see below */
  {1000, 1000, 0, 0, 1, 0},        /* no secondary: noise taken as 0 */
  {0, 0, 0, 0, 0, 0},              /* nothing compared */
};

Test(noise, classify) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct sc_noise_verdict v;
    sc_noise_classify(cases[i].diff, cases[i].n, cases[i].noise, cases[i].noise_n, 0.01, 0.01, &v);
    /* case 5: 30% vs 25%: d - margin = 0.04, se = 0.0199, z = 2.01, p = 0.022 > 0.01: not yet a regression */
    cr_expect_eq(v.regression, cases[i].regression, "case %zu p=%g", i, v.p_value);
    cr_expect_eq(v.noisy, cases[i].noisy, "case %zu", i);
  }
  struct sc_noise_verdict v;
  sc_noise_classify(10, 100, 0, 0, 0.01, 0.01, &v);
  cr_assert(isnan(v.noise_rate));
  cr_assert_float_eq(v.diff_rate, 0.1, 1e-12);
}

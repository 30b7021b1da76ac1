/*
 * stats.c - statistics for the analysis (see stats.h for each method and its
 * reference). Stage: analyze. References: Wilson 1927; Newcombe 1998 (Stat Med
 * 17:857-872 and 873-890); McNemar 1947; Mann & Whitney 1947; Wilcoxon 1945;
 * Hyndman & Fan 1996 (quantile type 7); Efron & Tibshirani 1993 (bootstrap
 * percentile intervals); Holm 1979; Benjamini & Hochberg 1995; Acklam's
 * normal quantile algorithm; Blackman & Vigna (xoshiro256**).
 */
#include "analyze/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* ---- normal distribution ----------------------------------------------- */

double sc_stats_norm_cdf(double z) { return 0.5 * erfc(-z / M_SQRT2); }

double sc_stats_chi2_1_sf(double x) { return x <= 0 ? 1.0 : erfc(sqrt(x / 2)); }

double sc_stats_norm_quantile(double p) {
  if (p <= 0) return -INFINITY;
  if (p >= 1) return INFINITY;
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  double q, r, x;
  if (p < 0.02425) {
    q = sqrt(-2 * log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - 0.02425) {
    q = p - 0.5;
    r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    q = sqrt(-2 * log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  /* one Halley refinement */
  double e = sc_stats_norm_cdf(x) - p;
  double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

/* ---- quantiles --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void sc_stats_sort(double *x, size_t n) { qsort(x, n, sizeof *x, cmp_double); }

double sc_stats_quantile_sorted(const double *s, size_t n, double q) {
  if (!n) return NAN;
  if (q <= 0) return s[0];
  if (q >= 1) return s[n - 1];
  double h = (double)(n - 1) * q;
  size_t lo = (size_t)floor(h);
  double frac = h - (double)lo;
  if (lo + 1 >= n) return s[n - 1];
  return s[lo] + frac * (s[lo + 1] - s[lo]);
}

/* Hoare-style quickselect: afterwards x[k] is the k-th smallest and
 * x[0..k) <= x[k] <= x(k..n). */
static void select_k(double *x, size_t n, size_t k) {
  size_t l = 0, r = n - 1;
  while (r > l) {
    /* median of three pivot */
    size_t m = l + (r - l) / 2;
    if (x[m] < x[l]) { double t = x[m]; x[m] = x[l]; x[l] = t; }
    if (x[r] < x[l]) { double t = x[r]; x[r] = x[l]; x[l] = t; }
    if (x[r] < x[m]) { double t = x[r]; x[r] = x[m]; x[m] = t; }
    double pv = x[m];
    size_t i = l, j = r;
    while (i <= j) {
      while (x[i] < pv) i++;
      while (x[j] > pv) j--;
      if (i <= j) {
        double t = x[i]; x[i] = x[j]; x[j] = t;
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (k <= j) r = j;
    else if (k >= i) l = i;
    else return;
  }
}

double sc_stats_quantile_select(double *x, size_t n, double q) {
  if (!n) return NAN;
  if (q < 0) q = 0;
  if (q > 1) q = 1;
  double h = (double)(n - 1) * q;
  size_t lo = (size_t)floor(h);
  double frac = h - (double)lo;
  select_k(x, n, lo);
  double v = x[lo];
  if (frac > 0 && lo + 1 < n) {
    double nxt = x[lo + 1];
    for (size_t i = lo + 2; i < n; i++)
      if (x[i] < nxt) nxt = x[i];
    v += frac * (nxt - v);
  }
  return v;
}

/* ---- proportions ------------------------------------------------------- */

void sc_stats_wilson(int64_t k, int64_t n, double z, double *lo, double *hi) {
  if (n <= 0) {
    *lo = 0;
    *hi = 1;
    return;
  }
  double p = (double)k / (double)n, nn = (double)n, z2 = z * z;
  double den = 1 + z2 / nn;
  double cen = (p + z2 / (2 * nn)) / den;
  double hw = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / den;
  *lo = fmax(0, cen - hw);
  *hi = fmin(1, cen + hw);
  if (k == 0) *lo = 0;
  if (k == n) *hi = 1;
}

void sc_stats_newcombe_diff(int64_t k1, int64_t n1, int64_t k2, int64_t n2, double z, double *lo,
                            double *hi) {
  if (n1 <= 0 || n2 <= 0) {
    *lo = -1;
    *hi = 1;
    return;
  }
  double p1 = (double)k1 / (double)n1, p2 = (double)k2 / (double)n2;
  double l1, u1, l2, u2;
  sc_stats_wilson(k1, n1, z, &l1, &u1);
  sc_stats_wilson(k2, n2, z, &l2, &u2);
  double d = p1 - p2;
  *lo = d - sqrt((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2));
  *hi = d + sqrt((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2));
}

double sc_stats_two_prop_z(int64_t k1, int64_t n1, int64_t k2, int64_t n2, double *z) {
  if (z) *z = 0;
  if (n1 <= 0 || n2 <= 0) return 1.0;
  double p1 = (double)k1 / (double)n1, p2 = (double)k2 / (double)n2;
  double p = (double)(k1 + k2) / (double)(n1 + n2);
  double se = sqrt(p * (1 - p) * (1.0 / (double)n1 + 1.0 / (double)n2));
  if (se <= 0) return 1.0;
  double zz = (p1 - p2) / se;
  if (z) *z = zz;
  return fmin(1.0, 2 * sc_stats_norm_cdf(-fabs(zz)));
}

double sc_stats_prop_excess_p(int64_t k1, int64_t n1, int64_t k2, int64_t n2, double margin) {
  if (n1 <= 0) return 1.0;
  double p1 = (double)k1 / (double)n1;
  double p2 = n2 > 0 ? (double)k2 / (double)n2 : 0;
  double var = p1 * (1 - p1) / (double)n1 + (n2 > 0 ? p2 * (1 - p2) / (double)n2 : 0);
  double diff = p1 - p2 - margin;
  if (var <= 0) return diff > 0 ? 0.0 : 1.0;
  return sc_stats_norm_cdf(-diff / sqrt(var));
}

/* log of the binomial coefficient */
static double lchoose(double n, double k) { return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1); }

double sc_stats_mcnemar(int64_t b, int64_t c, double *chi2) {
  int64_t m = b + c;
  if (chi2) *chi2 = 0;
  if (m <= 0) return 1.0;
  double x = (double)(b - c) * (double)(b - c) / (double)m;
  if (chi2) *chi2 = x;
  if (m < 25) {
    int64_t lo = b < c ? b : c;
    double s = 0;
    for (int64_t i = 0; i <= lo; i++) s += exp(lchoose((double)m, (double)i) - (double)m * M_LN2);
    return fmin(1.0, 2 * s);
  }
  return sc_stats_chi2_1_sf(x);
}

/* ---- rank tests -------------------------------------------------------- */

struct tagged {
  double v;
  int g;
};

static int cmp_tagged(const void *a, const void *b) {
  double x = ((const struct tagged *)a)->v, y = ((const struct tagged *)b)->v;
  return (x > y) - (x < y);
}

int sc_stats_mann_whitney(const double *x, size_t nx, const double *y, size_t ny, struct sc_mwu *out) {
  memset(out, 0, sizeof *out);
  if (!nx || !ny) return SC_EINVAL;
  size_t n = nx + ny;
  struct tagged *t = malloc(n * sizeof *t);
  if (!t) return SC_ENOMEM;
  for (size_t i = 0; i < nx; i++) t[i] = (struct tagged){x[i], 0};
  for (size_t i = 0; i < ny; i++) t[nx + i] = (struct tagged){y[i], 1};
  qsort(t, n, sizeof *t, cmp_tagged);
  double r1 = 0, tie = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && t[j + 1].v == t[i].v) j++;
    double rank = ((double)i + (double)j) / 2 + 1; /* average rank, 1-based */
    double cnt = (double)(j - i + 1);
    if (cnt > 1) tie += cnt * cnt * cnt - cnt;
    for (size_t k = i; k <= j; k++)
      if (t[k].g == 0) r1 += rank;
    i = j + 1;
  }
  free(t);
  double fx = (double)nx, fy = (double)ny, fn = (double)n;
  out->u1 = r1 - fx * (fx + 1) / 2;
  out->u2 = fx * fy - out->u1;
  double mu = fx * fy / 2;
  double var = fx * fy / 12 * ((fn + 1) - tie / (fn * (fn - 1)));
  if (var > 0) {
    double dlt = out->u1 - mu;
    double cc = dlt > 0 ? -0.5 : (dlt < 0 ? 0.5 : 0);
    out->z = (dlt + cc) / sqrt(var);
    out->p = fmin(1.0, 2 * sc_stats_norm_cdf(-fabs(out->z)));
  } else {
    out->p = 1.0;
  }
  out->cles = out->u1 / (fx * fy);
  out->rbc = 2 * out->cles - 1;
  return 0;
}

static int cmp_abs(const void *a, const void *b) {
  double x = fabs(*(const double *)a), y = fabs(*(const double *)b);
  return (x > y) - (x < y);
}

int sc_stats_wilcoxon(const double *d, size_t n, struct sc_wsr *out) {
  memset(out, 0, sizeof *out);
  out->p = 1.0;
  double *v = malloc((n ? n : 1) * sizeof *v);
  if (!v) return SC_ENOMEM;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (d[i] != 0 && !isnan(d[i])) v[m++] = d[i];
  out->n = m;
  if (!m) {
    free(v);
    return 0;
  }
  qsort(v, m, sizeof *v, cmp_abs);
  double tie = 0;
  for (size_t i = 0; i < m;) {
    size_t j = i;
    while (j + 1 < m && fabs(v[j + 1]) == fabs(v[i])) j++;
    double rank = ((double)i + (double)j) / 2 + 1;
    double cnt = (double)(j - i + 1);
    if (cnt > 1) tie += cnt * cnt * cnt - cnt;
    for (size_t k = i; k <= j; k++) {
      if (v[k] > 0) out->w_plus += rank;
      else out->w_minus += rank;
    }
    i = j + 1;
  }
  free(v);
  double fm = (double)m;
  out->w = out->w_plus - out->w_minus;
  double mu = fm * (fm + 1) / 4;
  double var = fm * (fm + 1) * (2 * fm + 1) / 24 - tie / 48;
  if (var > 0) {
    out->z = (out->w_plus - mu) / sqrt(var);
    out->p = fmin(1.0, 2 * sc_stats_norm_cdf(-fabs(out->z)));
  }
  return 0;
}

/* ---- RNG and bootstrap ------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void sc_rng_seed(struct sc_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sc_rng_next(struct sc_rng *r) {
  uint64_t *s = r->s;
  uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return res;
}

uint64_t sc_rng_below(struct sc_rng *r, uint64_t n) {
  if (n <= 1) return 0;
  unsigned __int128 m = (unsigned __int128)sc_rng_next(r) * n;
  uint64_t l = (uint64_t)m;
  if (l < n) {
    uint64_t t = -n % n;
    while (l < t) {
      m = (unsigned __int128)sc_rng_next(r) * n;
      l = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

static double stat_of(double *x, size_t n, double q) {
  if (q < 0) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
  }
  return sc_stats_quantile_select(x, n, q);
}

static double combine(double sa, double sb, int ratio) {
  if (ratio) return sb != 0 ? sa / sb : NAN;
  return sa - sb;
}

int sc_stats_bootstrap(const double *a, size_t na, const double *b, size_t nb, double q, int paired,
                       int ratio, unsigned iters, double alpha, uint64_t seed, double *est, double *lo,
                       double *hi) {
  *est = *lo = *hi = NAN;
  if (!na || !nb || (paired && na != nb)) return SC_EINVAL;
  if (iters < 20) iters = 20;
  int rc = SC_OK;
  double *xa = malloc(na * sizeof *xa), *xb = malloc(nb * sizeof *xb);
  double *res = malloc(iters * sizeof *res);
  if (!xa || !xb || !res) {
    rc = SC_ENOMEM;
    goto out;
  }
  memcpy(xa, a, na * sizeof *xa);
  memcpy(xb, b, nb * sizeof *xb);
  *est = combine(stat_of(xa, na, q), stat_of(xb, nb, q), ratio);
  struct sc_rng r;
  sc_rng_seed(&r, seed);
  size_t k = 0;
  for (unsigned it = 0; it < iters; it++) {
    if (paired) {
      for (size_t i = 0; i < na; i++) {
        size_t j = (size_t)sc_rng_below(&r, na);
        xa[i] = a[j];
        xb[i] = b[j];
      }
    } else {
      for (size_t i = 0; i < na; i++) xa[i] = a[sc_rng_below(&r, na)];
      for (size_t i = 0; i < nb; i++) xb[i] = b[sc_rng_below(&r, nb)];
    }
    double v = combine(stat_of(xa, na, q), stat_of(xb, nb, q), ratio);
    if (isfinite(v)) res[k++] = v;
  }
  if (k) {
    sc_stats_sort(res, k);
    *lo = sc_stats_quantile_sorted(res, k, alpha / 2);
    *hi = sc_stats_quantile_sorted(res, k, 1 - alpha / 2);
  }
out:
  free(xa);
  free(xb);
  free(res);
  return rc;
}

void sc_stats_quantiles_select(double *x, size_t n, const double *qs, size_t nq, double *out) {
  size_t ord[16];
  if (nq > 16) nq = 16;
  for (size_t i = 0; i < nq; i++) ord[i] = i;
  for (size_t i = 1; i < nq; i++) /* descending by q */
    for (size_t j = i; j > 0 && qs[ord[j]] > qs[ord[j - 1]]; j--) {
      size_t t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
    }
  size_t m = n; /* x[0..m) holds the m smallest values */
  for (size_t k = 0; k < nq; k++) {
    double q = qs[ord[k]];
    if (!n) {
      out[ord[k]] = NAN;
      continue;
    }
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    double frac = h - (double)lo;
    if (lo >= m) lo = m - 1; /* cannot happen: q descending */
    select_k(x, m, lo);
    double v = x[lo];
    if (frac > 0 && lo + 1 < n) {
      double nxt = lo + 1 < m ? x[lo + 1] : x[m];
      for (size_t i = lo + 2; i < m; i++)
        if (x[i] < nxt) nxt = x[i];
      v += frac * (nxt - v);
    }
    out[ord[k]] = v;
    m = lo + 1;
  }
}

int sc_stats_bootstrap_quantiles(const double *a, size_t na, const double *b, size_t nb, const double *qs,
                                 size_t nq, int paired, unsigned iters, double alpha, uint64_t seed,
                                 struct sc_boot_q *out) {
  for (size_t k = 0; k < nq; k++)
    out[k] = (struct sc_boot_q){NAN, NAN, NAN, NAN, NAN, NAN};
  if (!na || !nb || (paired && na != nb) || nq > 16) return SC_EINVAL;
  if (iters < 20) iters = 20;
  int rc = SC_OK;
  double *xa = malloc(na * sizeof *xa), *xb = malloc(nb * sizeof *xb);
  double *rr = malloc((size_t)iters * nq * sizeof *rr), *rd = malloc((size_t)iters * nq * sizeof *rd);
  double *col = malloc(iters * sizeof *col);
  double va[16], vb[16];
  if (!xa || !xb || !rr || !rd || !col) {
    rc = SC_ENOMEM;
    goto out;
  }
  memcpy(xa, a, na * sizeof *xa);
  memcpy(xb, b, nb * sizeof *xb);
  sc_stats_quantiles_select(xa, na, qs, nq, va);
  sc_stats_quantiles_select(xb, nb, qs, nq, vb);
  for (size_t k = 0; k < nq; k++) {
    out[k].ratio = vb[k] != 0 ? va[k] / vb[k] : NAN;
    out[k].delta = va[k] - vb[k];
  }
  struct sc_rng r;
  sc_rng_seed(&r, seed);
  for (unsigned it = 0; it < iters; it++) {
    if (paired) {
      for (size_t i = 0; i < na; i++) {
        size_t j = (size_t)sc_rng_below(&r, na);
        xa[i] = a[j];
        xb[i] = b[j];
      }
    } else {
      for (size_t i = 0; i < na; i++) xa[i] = a[sc_rng_below(&r, na)];
      for (size_t i = 0; i < nb; i++) xb[i] = b[sc_rng_below(&r, nb)];
    }
    sc_stats_quantiles_select(xa, na, qs, nq, va);
    sc_stats_quantiles_select(xb, nb, qs, nq, vb);
    for (size_t k = 0; k < nq; k++) {
      rr[(size_t)it * nq + k] = vb[k] != 0 ? va[k] / vb[k] : NAN;
      rd[(size_t)it * nq + k] = va[k] - vb[k];
    }
  }
  for (size_t k = 0; k < nq; k++) {
    for (int which = 0; which < 2; which++) {
      const double *src = which ? rd : rr;
      size_t m = 0;
      for (unsigned it = 0; it < iters; it++) {
        double v = src[(size_t)it * nq + k];
        if (isfinite(v)) col[m++] = v;
      }
      if (!m) continue;
      sc_stats_sort(col, m);
      double lo = sc_stats_quantile_sorted(col, m, alpha / 2), hi = sc_stats_quantile_sorted(col, m, 1 - alpha / 2);
      if (which) out[k].delta_lo = lo, out[k].delta_hi = hi;
      else out[k].ratio_lo = lo, out[k].ratio_hi = hi;
    }
  }
out:
  free(xa);
  free(xb);
  free(rr);
  free(rd);
  free(col);
  return rc;
}

/* ---- sample size ------------------------------------------------------- */

double sc_stats_mde_prop(double p, int64_t n1, int64_t n2, double alpha, double power) {
  if (n1 <= 0) return INFINITY;
  double zs = sc_stats_norm_quantile(1 - alpha / 2) + sc_stats_norm_quantile(power);
  int64_t nmin = n2 > 0 && n2 < n1 ? n2 : n1;
  double pt = p;
  if (pt < 3.0 / (double)nmin) pt = 3.0 / (double)nmin;
  if (pt > 0.5) pt = 0.5;
  double inv = 1.0 / (double)n1 + (n2 > 0 ? 1.0 / (double)n2 : 0);
  return zs * sqrt(pt * (1 - pt) * inv);
}

/* ---- multiple testing -------------------------------------------------- */

struct pidx {
  double p;
  size_t i;
};

static int cmp_pidx(const void *a, const void *b) {
  double x = ((const struct pidx *)a)->p, y = ((const struct pidx *)b)->p;
  return (x > y) - (x < y);
}

static struct pidx *sorted_p(const double *p, size_t n) {
  struct pidx *s = malloc((n ? n : 1) * sizeof *s);
  if (!s) return NULL;
  for (size_t i = 0; i < n; i++) s[i] = (struct pidx){isnan(p[i]) ? 1.0 : p[i], i};
  qsort(s, n, sizeof *s, cmp_pidx);
  return s;
}

int sc_stats_holm(double *p, size_t n) {
  struct pidx *s = sorted_p(p, n);
  if (!s) return SC_ENOMEM;
  double run = 0;
  for (size_t k = 0; k < n; k++) {
    double v = fmin(1.0, (double)(n - k) * s[k].p);
    if (v < run) v = run;
    run = v;
    p[s[k].i] = v;
  }
  free(s);
  return 0;
}

int sc_stats_bh(double *p, size_t n) {
  struct pidx *s = sorted_p(p, n);
  if (!s) return SC_ENOMEM;
  double run = 1.0;
  for (size_t k = n; k-- > 0;) {
    double v = fmin(1.0, s[k].p * (double)n / (double)(k + 1));
    if (v > run) v = run;
    run = v;
    p[s[k].i] = v;
  }
  free(s);
  return 0;
}

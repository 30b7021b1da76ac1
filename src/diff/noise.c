/*
 * noise.c - per-path difference counters (string map) and the noise versus
 * regression rule. Stage: diff. Reference: schemas/analysis.sql (path_stats);
 * the test is a one-sided two-proportion z test with a margin (unpooled
 * standard error), see analyze/stats.h.
 */
#include "diff/noise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 1000000

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

void sc_noise_map_init(struct sc_noise_map *m) { memset(m, 0, sizeof *m); }

void sc_noise_map_release(struct sc_noise_map *m) {
  for (size_t i = 0; i < m->n; i++) free(m->v[i].key);
  free(m->v);
  free(m->slots);
  memset(m, 0, sizeof *m);
}

static int rehash(struct sc_noise_map *m, size_t nslots) {
  uint32_t *s = calloc(nslots, sizeof *s);
  if (!s) return SC_ENOMEM;
  for (size_t i = 0; i < m->n; i++) {
    size_t j = m->v[i].hash & (nslots - 1);
    while (s[j]) j = (j + 1) & (nslots - 1);
    s[j] = (uint32_t)(i + 1);
  }
  free(m->slots);
  m->slots = s;
  m->nslots = nslots;
  return SC_OK;
}

int sc_noise_intern(struct sc_noise_map *m, const char *key, size_t len, size_t *idx) {
  if (!m->nslots && rehash(m, 64)) return SC_ENOMEM;
  uint64_t h = fnv1a(key, len);
  size_t j = h & (m->nslots - 1);
  while (m->slots[j]) {
    struct sc_noise_entry *e = &m->v[m->slots[j] - 1];
    if (e->hash == h && !strncmp(e->key, key, len) && e->key[len] == '\0') {
      *idx = m->slots[j] - 1;
      return SC_OK;
    }
    j = (j + 1) & (m->nslots - 1);
  }
  if (m->n >= MAX_KEYS) return SC_ETOOBIG;
  if (m->n == m->cap) {
    size_t nc = m->cap ? m->cap * 2 : 32;
    struct sc_noise_entry *nv = realloc(m->v, nc * sizeof *nv);
    if (!nv) return SC_ENOMEM;
    m->v = nv;
    m->cap = nc;
  }
  struct sc_noise_entry *e = &m->v[m->n];
  memset(e, 0, sizeof *e);
  e->key = malloc(len + 1);
  if (!e->key) return SC_ENOMEM;
  memcpy(e->key, key, len);
  e->key[len] = '\0';
  e->hash = h;
  e->last_seq[0] = e->last_seq[1] = INT64_MIN;
  m->slots[j] = (uint32_t)(m->n + 1);
  *idx = m->n++;
  if (m->n * 2 > m->nslots) return rehash(m, m->nslots * 2);
  return SC_OK;
}

int sc_noise_count(struct sc_noise_map *m, const char *key, int pair, int64_t seq, size_t *idx,
                   int *first) {
  int rc = sc_noise_intern(m, key, strlen(key), idx);
  if (rc) return rc;
  struct sc_noise_entry *e = &m->v[*idx];
  pair = pair ? 1 : 0;
  *first = e->last_seq[pair] != seq;
  if (*first) {
    e->last_seq[pair] = seq;
    e->count[pair]++;
  }
  return SC_OK;
}

void sc_noise_classify(int64_t diff, int64_t n, int64_t noise, int64_t noise_n, double margin,
                       double alpha, struct sc_noise_verdict *out) {
  memset(out, 0, sizeof *out);
  out->diff_rate = n > 0 ? (double)diff / (double)n : 0;
  out->noise_rate = noise_n > 0 ? (double)noise / (double)noise_n : NAN;
  out->noisy = noise > 0;
  double p1 = out->diff_rate, p2 = noise_n > 0 ? out->noise_rate : 0;
  double var = (n > 0 ? p1 * (1 - p1) / (double)n : 0) + (noise_n > 0 ? p2 * (1 - p2) / (double)noise_n : 0);
  double d = p1 - p2 - margin;
  if (n <= 0) out->p_value = 1.0;
  else if (var <= 0) out->p_value = d > 0 ? 0.0 : 1.0;
  else out->p_value = 0.5 * erfc(d / sqrt(var) / M_SQRT2);
  out->regression = n > 0 && d > 0 && out->p_value < alpha;
}

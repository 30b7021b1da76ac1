/*
 * noise.h - per-path difference counting and noise classification (issue 4).
 * Stage: diff. Reference: schemas/analysis.sql (path_stats).
 *
 * A path that differs between current and secondary (two copies of the same
 * version) is noisy. For each normalised path the candidate diff rate is set
 * beside the noise rate; the path is a regression only when the diff rate
 * exceeds the noise rate by more than a margin with a one-sided p < alpha.
 * Without a secondary the noise rate is taken as 0 (every stable difference
 * counts); use diff.ignore or replay --secondary for non-deterministic fields.
 *
 * The map is also a generic string interner (slices use it): every key gets
 * a dense index in insertion order.
 */
#ifndef SC_DIFF_NOISE_H
#define SC_DIFF_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct sc_noise_entry {
  char *key;           /* owned */
  uint64_t hash;
  int64_t count[2];    /* exchanges where the path differed: [0] candidate, [1] secondary */
  int64_t last_seq[2]; /* dedup: one count per exchange and pair */
  int64_t examples[2]; /* example rows stored so far */
};

struct sc_noise_map {
  struct sc_noise_entry *v; /* dense, insertion order */
  size_t n, cap;
  uint32_t *slots;          /* open addressing: index + 1, 0 = empty */
  size_t nslots;
};

void sc_noise_map_init(struct sc_noise_map *m);
void sc_noise_map_release(struct sc_noise_map *m);
/* Finds or inserts key; *idx gets its dense index. SC_ENOMEM or SC_ETOOBIG
 * (more than 1,000,000 keys). */
int sc_noise_intern(struct sc_noise_map *m, const char *key, size_t len, size_t *idx) SC_MUST_CHECK;

/* Counts one difference of key in exchange seq for pair (0 candidate,
 * 1 secondary); counted once per exchange. *first gets 1 when this is the
 * first time in this exchange, *idx the entry. */
int sc_noise_count(struct sc_noise_map *m, const char *key, int pair, int64_t seq, size_t *idx,
                   int *first) SC_MUST_CHECK;

struct sc_noise_verdict {
  double diff_rate;    /* count[0] / n */
  double noise_rate;   /* count[1] / noise_n, NAN without a secondary */
  double p_value;      /* one-sided, diff_rate - noise_rate > margin */
  int regression;
  int noisy;
};

/* Classifies one path: diff differences in n candidate pairs, noise
 * differences in noise_n secondary pairs (noise_n = 0: no secondary). */
void sc_noise_classify(int64_t diff, int64_t n, int64_t noise, int64_t noise_n, double margin,
                       double alpha, struct sc_noise_verdict *out);

#endif

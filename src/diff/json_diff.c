/*
 * json_diff.c - field-level JSON diff with ignore patterns and numeric
 * tolerances; gzip/deflate decoding; classification of bodies that cannot be
 * compared as JSON. Stage: diff. Reference: RFC 8259 (JSON), RFC 1950/1951/
 * 1952 (zlib/deflate/gzip), RFC 9110 section 8.4; jansson and zlib manuals.
 *
 * Invariants:
 *   1. Recursion depth never exceeds rules->max_depth (bodies are pre-scanned;
 *      sc_diff_json on documents from elsewhere stops and classifies too_deep).
 *   2. At most rules->max_entries entries; then res->truncated = 1.
 *   3. Decoded bytes never exceed rules->max_bytes (zip bombs stop there).
 */
#include "diff/json_diff.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "util/limits.h"

/* ---- names ------------------------------------------------------------- */

const char *sc_diff_kind_str(enum sc_diff_kind k) {
  static const char *const n[] = {"added", "removed", "changed", "type_changed"};
  return (unsigned)k < 4 ? n[k] : "changed";
}

const char *sc_diff_class_str(enum sc_diff_class c) {
  static const char *const n[] = {"equal", "differ", "error", "non_json_equal", "non_json_differ",
                                  "invalid_json", "too_deep", "too_large", "decode_error", "empty"};
  return (unsigned)c < sizeof n / sizeof n[0] ? n[c] : "error";
}

/* ---- path patterns ----------------------------------------------------- */

enum seg_type { SEG_NAME, SEG_INDEX, SEG_ANY };

struct seg {
  enum seg_type t;
  int desc;          /* preceded by "..": skip zero or more path segments first */
  char *name;        /* SEG_NAME, owned */
  size_t len;
  size_t idx;        /* SEG_INDEX */
};

struct pat {
  struct seg *s;
  size_t n;
};

/* A concrete path segment during traversal (borrowed name). */
struct cseg {
  const char *name;
  size_t len;
  size_t idx;
  int is_idx;
};

static void pat_free(struct pat *p) {
  for (size_t i = 0; i < p->n; i++) free(p->s[i].name);
  free(p->s);
  p->s = NULL;
  p->n = 0;
}

/* Parses a pattern (or a concrete path: same grammar). 0 or -1 (syntax) or
 * SC_ENOMEM. */
static int pat_compile(const char *p, struct pat *out) {
  size_t cap = 8;
  out->n = 0;
  out->s = calloc(cap, sizeof *out->s);
  if (!out->s) return SC_ENOMEM;
  if (p[0] != '$') goto bad;
  size_t i = 1;
  while (p[i]) {
    if (out->n == cap) {
      struct seg *ns = realloc(out->s, 2 * cap * sizeof *ns);
      if (!ns) {
        pat_free(out);
        return SC_ENOMEM;
      }
      memset(ns + cap, 0, cap * sizeof *ns);
      out->s = ns;
      cap *= 2;
    }
    struct seg *s = &out->s[out->n];
    memset(s, 0, sizeof *s);
    if (p[i] == '.') {
      i++;
      if (p[i] == '.') {
        s->desc = 1;
        i++;
      }
      if (p[i] == '[' && s->desc) goto bracket;
      size_t st = i;
      while (p[i] && p[i] != '.' && p[i] != '[') i++;
      if (i == st) goto bad;
      if (i - st == 1 && p[st] == '*') {
        s->t = SEG_ANY;
      } else {
        s->t = SEG_NAME;
        s->name = sc_memdup0(p + st, i - st);
        if (!s->name) goto nomem;
        s->len = i - st;
      }
      out->n++;
      continue;
    }
    if (p[i] != '[') goto bad;
  bracket:
    i++;
    if (p[i] == '*') {
      s->t = SEG_ANY;
      i++;
    } else if (p[i] == '"' || p[i] == '\'') {
      char q = p[i++];
      struct sc_buf b;
      sc_buf_init(&b, SC_MAX_PATH_LEN * 4);
      while (p[i] && p[i] != q) {
        char c = p[i++];
        if (c == '\\' && p[i]) {
          c = p[i++];
          if (c == 'u' && isxdigit((unsigned char)p[i]) && isxdigit((unsigned char)p[i + 1]) &&
              isxdigit((unsigned char)p[i + 2]) && isxdigit((unsigned char)p[i + 3])) {
            char hx[5] = {p[i], p[i + 1], p[i + 2], p[i + 3], 0};
            c = (char)strtol(hx, NULL, 16); /* control characters only are escaped this way */
            i += 4;
          }
        }
        if (sc_buf_putc(&b, c)) {
          sc_buf_release(&b);
          goto bad;
        }
      }
      if (!p[i]) {
        sc_buf_release(&b);
        goto bad;
      }
      i++;
      s->t = SEG_NAME;
      s->name = sc_buf_take(&b, &s->len);
      if (!s->name) goto nomem;
    } else if (p[i] >= '0' && p[i] <= '9') {
      size_t v = 0;
      while (p[i] >= '0' && p[i] <= '9') {
        if (v > (SIZE_MAX - 9) / 10) goto bad;
        v = v * 10 + (size_t)(p[i++] - '0');
      }
      s->t = SEG_INDEX;
      s->idx = v;
    } else {
      goto bad;
    }
    if (p[i] != ']') {
      out->n++;
      goto bad;
    }
    i++;
    out->n++;
  }
  return 0;
bad:
  pat_free(out);
  return -1;
nomem:
  out->n++;
  pat_free(out);
  return SC_ENOMEM;
}

static int seg_match(const struct seg *s, const struct cseg *c) {
  switch (s->t) {
  case SEG_ANY: return 1;
  case SEG_INDEX: return c->is_idx && c->idx == s->idx;
  case SEG_NAME: return !c->is_idx && c->len == s->len && !memcmp(c->name, s->name, s->len);
  }
  return 0;
}

/* Exact match of the whole path (a pattern "$..x" matches any path ending in
 * member x). Backtracking is bounded: patterns are short (SC_MAX_PATH_LEN) and
 * paths at most max_depth deep. */
static int pat_match(const struct seg *p, size_t np, const struct cseg *c, size_t nc) {
  if (np == 0) return nc == 0;
  if (p->desc) {
    for (size_t k = 0; k < nc; k++)
      if (seg_match(p, &c[k]) && pat_match(p + 1, np - 1, c + k + 1, nc - k - 1)) return 1;
    return 0;
  }
  return nc > 0 && seg_match(p, c) && pat_match(p + 1, np - 1, c + 1, nc - 1);
}

int sc_diff_path_match(const char *pattern, const char *path) {
  struct pat p, q;
  if (pat_compile(pattern, &p)) return 0;
  if (pat_compile(path, &q)) {
    pat_free(&p);
    return 0;
  }
  struct cseg *c = calloc(q.n ? q.n : 1, sizeof *c);
  int m = 0;
  if (c) {
    for (size_t i = 0; i < q.n; i++) {
      c[i].is_idx = q.s[i].t == SEG_INDEX;
      c[i].idx = q.s[i].idx;
      c[i].name = q.s[i].name ? q.s[i].name : "";
      c[i].len = q.s[i].len;
    }
    m = pat_match(p.s, p.n, c, q.n);
  }
  free(c);
  pat_free(&p);
  pat_free(&q);
  return m;
}

/* ---- rules ------------------------------------------------------------- */

int sc_diff_rules_init(struct sc_diff_rules *r, const struct sc_config *cfg, struct sc_error *err) {
  memset(r, 0, sizeof *r);
  r->max_depth = cfg->max_json_depth ? cfg->max_json_depth : SC_MAX_JSON_DEPTH;
  if (r->max_depth > 1024) r->max_depth = 1024; /* recursion bound (stack) */
  r->max_bytes = cfg->max_json_bytes ? cfg->max_json_bytes : SC_MAX_JSON_BYTES;
  r->max_entries = SC_MAX_DIFF_PATHS;
  r->ignore = calloc(cfg->n_ignore_paths ? cfg->n_ignore_paths : 1, sizeof *r->ignore);
  r->tol = calloc(cfg->n_tolerances ? cfg->n_tolerances : 1, sizeof *r->tol);
  if (!r->ignore || !r->tol) goto nomem;
  for (size_t i = 0; i < cfg->n_ignore_paths; i++) {
    int rc = pat_compile(cfg->ignore_paths[i], &r->ignore[i]);
    if (rc == SC_ENOMEM) goto nomem;
    if (rc) {
      sc_diff_rules_release(r);
      return sc_error_set(err, SC_ECONFIG, "invalid ignore path '%s'", cfg->ignore_paths[i]);
    }
    r->n_ignore++;
  }
  for (size_t i = 0; i < cfg->n_tolerances; i++) {
    int rc = pat_compile(cfg->tolerances[i].path, &r->tol[i]);
    if (rc == SC_ENOMEM) goto nomem;
    if (rc) {
      sc_diff_rules_release(r);
      return sc_error_set(err, SC_ECONFIG, "invalid tolerance path '%s'", cfg->tolerances[i].path);
    }
    r->n_tol++;
  }
  r->tol_vals = cfg->tolerances;
  return SC_OK;
nomem:
  sc_diff_rules_release(r);
  return sc_error_set(err, SC_ENOMEM, "out of memory");
}

void sc_diff_rules_release(struct sc_diff_rules *r) {
  if (r->ignore)
    for (size_t i = 0; i < r->n_ignore; i++) pat_free(&r->ignore[i]);
  if (r->tol)
    for (size_t i = 0; i < r->n_tol; i++) pat_free(&r->tol[i]);
  free(r->ignore);
  free(r->tol);
  memset(r, 0, sizeof *r);
}

/* ---- results ----------------------------------------------------------- */

void sc_diff_result_init(struct sc_diff_result *r) {
  memset(r, 0, sizeof *r);
  sc_buf_init(&r->pool, (size_t)SC_MAX_DIFF_PATHS * (SC_MAX_PATH_LEN + 1) * 4);
  sc_buf_init(&r->wpath, (size_t)SC_MAX_PATH_LEN * 8);
  sc_buf_init(&r->wnpath, (size_t)SC_MAX_PATH_LEN * 8);
}

void sc_diff_result_reset(struct sc_diff_result *r) {
  r->cls = SC_DC_EQUAL;
  r->n = 0;
  r->truncated = 0;
  sc_buf_reset(&r->pool);
}

void sc_diff_result_release(struct sc_diff_result *r) {
  free(r->v);
  free(r->stack);
  sc_buf_release(&r->pool);
  sc_buf_release(&r->wpath);
  sc_buf_release(&r->wnpath);
  memset(r, 0, sizeof *r);
}

/* ---- traversal --------------------------------------------------------- */

struct walk {
  const struct sc_diff_rules *rules;
  struct sc_diff_result *res;
  struct cseg *stack;      /* max_depth + 1 */
  size_t depth;
  struct sc_buf *path, *npath;
  int too_deep;
  int nomem;
};

static int is_ident(const char *s, size_t n) {
  if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-')) return 0;
  return 1;
}

/* Appends one segment to both path strings. Returns 0 or -1 (cap/OOM:
 * the path is cut, which only affects how it is displayed). */
static void path_push_name(struct walk *w, const char *k, size_t n) {
  int rc = 0;
  for (int pass = 0; pass < 2; pass++) {
    struct sc_buf *b = pass ? w->npath : w->path;
    if (is_ident(k, n)) {
      rc |= sc_buf_putc(b, '.');
      rc |= sc_buf_append(b, k, n);
    } else {
      rc |= sc_buf_puts(b, "[\"");
      for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c == '"' || c == '\\') rc |= sc_buf_putc(b, '\\'), rc |= sc_buf_putc(b, (char)c);
        else if (c < 0x20) rc |= sc_buf_printf(b, "\\u%04x", c);
        else rc |= sc_buf_putc(b, (char)c);
      }
      rc |= sc_buf_puts(b, "\"]");
    }
  }
  (void)rc; /* a path longer than the cap is displayed cut */
}

static void path_push_index(struct walk *w, size_t i) {
  int rc = sc_buf_printf(w->path, "[%zu]", i);
  rc |= sc_buf_puts(w->npath, "[*]");
  (void)rc;
}

static int ignored(const struct walk *w) {
  for (size_t i = 0; i < w->rules->n_ignore; i++)
    if (pat_match(w->rules->ignore[i].s, w->rules->ignore[i].n, w->stack, w->depth)) return 1;
  return 0;
}

static const struct sc_tolerance *tolerance(const struct walk *w) {
  for (size_t i = 0; i < w->rules->n_tol; i++)
    if (pat_match(w->rules->tol[i].s, w->rules->tol[i].n, w->stack, w->depth))
      return &w->rules->tol_vals[i];
  return NULL;
}

static void emit(struct walk *w, enum sc_diff_kind k, const json_t *a, const json_t *b) {
  struct sc_diff_result *r = w->res;
  if (r->n >= w->rules->max_entries) {
    r->truncated = 1;
    return;
  }
  if (r->n == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 16;
    struct sc_diff_entry *nv = realloc(r->v, nc * sizeof *nv);
    if (!nv) {
      w->nomem = 1;
      return;
    }
    r->v = nv;
    r->cap = nc;
  }
  struct sc_diff_entry *e = &r->v[r->n];
  e->path_off = r->pool.len;
  int rc = sc_buf_append(&r->pool, w->path->len ? w->path->p : "$", w->path->len ? w->path->len + 1 : 2);
  e->npath_off = r->pool.len;
  rc |= sc_buf_append(&r->pool, w->npath->len ? w->npath->p : "$", w->npath->len ? w->npath->len + 1 : 2);
  if (rc) {
    r->truncated = 1;
    return;
  }
  e->kind = k;
  e->a = a;
  e->b = b;
  r->n++;
}

/* Type category: object, array, string, number, bool, null. */
static int cat(const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: return 0;
  case JSON_ARRAY: return 1;
  case JSON_STRING: return 2;
  case JSON_INTEGER:
  case JSON_REAL: return 3;
  case JSON_TRUE:
  case JSON_FALSE: return 4;
  case JSON_NULL: return 5;
  }
  return 6;
}

static int numbers_equal(const struct walk *w, const json_t *a, const json_t *b) {
  const struct sc_tolerance *t = tolerance(w);
  if (!t && json_is_integer(a) && json_is_integer(b))
    return json_integer_value(a) == json_integer_value(b);
  double x = json_number_value(a), y = json_number_value(b);
  if (!t) {
    if (json_is_integer(a) != json_is_integer(b)) {
      /* 1 vs 1.0: equal only when the real is exactly that integer. */
      const json_t *i = json_is_integer(a) ? a : b;
      double r = json_is_integer(a) ? y : x;
      return r >= -9.2e18 && r <= 9.2e18 && (double)(json_int_t)r == r &&
             (json_int_t)r == json_integer_value(i);
    }
    return x == y;
  }
  double d = fabs(x - y);
  if (d <= t->abs) return 1;
  double m = fmax(fabs(x), fabs(y));
  return d <= t->rel * m;
}

static void walk_node(struct walk *w, const json_t *a, const json_t *b);

static void walk_child(struct walk *w, struct cseg seg, const json_t *a, const json_t *b) {
  if (w->nomem || w->res->truncated) return;
  if (w->depth >= w->rules->max_depth) {
    w->too_deep = 1;
    return;
  }
  size_t pl = w->path->len, nl = w->npath->len;
  w->stack[w->depth++] = seg;
  if (seg.is_idx) path_push_index(w, seg.idx);
  else path_push_name(w, seg.name, seg.len);
  if (!ignored(w)) {
    if (!a) emit(w, SC_DIFF_ADDED, NULL, b);
    else if (!b) emit(w, SC_DIFF_REMOVED, a, NULL);
    else walk_node(w, a, b);
  }
  w->depth--;
  w->path->len = pl;
  w->path->p[pl] = '\0';
  w->npath->len = nl;
  w->npath->p[nl] = '\0';
}

static void walk_node(struct walk *w, const json_t *a, const json_t *b) {
  int ca = cat(a), cb = cat(b);
  if (ca != cb) {
    emit(w, SC_DIFF_TYPE_CHANGED, a, b);
    return;
  }
  switch (ca) {
  case 0: {
    const char *k;
    size_t kl;
    json_t *va;
    json_object_keylen_foreach((json_t *)a, k, kl, va) {
      json_t *vb = json_object_getn(b, k, kl);
      walk_child(w, (struct cseg){k, kl, 0, 0}, va, vb);
    }
    json_t *vb;
    json_object_keylen_foreach((json_t *)b, k, kl, vb) {
      if (!json_object_getn(a, k, kl)) walk_child(w, (struct cseg){k, kl, 0, 0}, NULL, vb);
    }
    break;
  }
  case 1: {
    size_t na = json_array_size(a), nb = json_array_size(b);
    size_t m = na > nb ? na : nb;
    for (size_t i = 0; i < m && !w->res->truncated && !w->nomem; i++)
      walk_child(w, (struct cseg){NULL, 0, i, 1}, i < na ? json_array_get(a, i) : NULL,
                 i < nb ? json_array_get(b, i) : NULL);
    break;
  }
  case 2:
    if (json_string_length(a) != json_string_length(b) ||
        memcmp(json_string_value(a), json_string_value(b), json_string_length(a)))
      emit(w, SC_DIFF_CHANGED, a, b);
    break;
  case 3:
    if (!numbers_equal(w, a, b)) emit(w, SC_DIFF_CHANGED, a, b);
    break;
  case 4:
    if (json_typeof(a) != json_typeof(b)) emit(w, SC_DIFF_CHANGED, a, b);
    break;
  default:
    break;
  }
}

int sc_diff_json(const struct sc_diff_rules *rules, const json_t *a, const json_t *b,
                 struct sc_diff_result *res) {
  sc_diff_result_reset(res);
  struct walk w;
  memset(&w, 0, sizeof w);
  w.rules = rules;
  w.res = res;
  if (res->stack_cap < rules->max_depth + 1) {
    void *ns = realloc(res->stack, (rules->max_depth + 1) * sizeof *w.stack);
    if (!ns) return SC_ENOMEM;
    res->stack = ns;
    res->stack_cap = rules->max_depth + 1;
  }
  w.stack = res->stack;
  w.path = &res->wpath;
  w.npath = &res->wnpath;
  if (!w.path->max) sc_buf_init(w.path, (size_t)SC_MAX_PATH_LEN * 8);   /* zeroed result */
  if (!w.npath->max) sc_buf_init(w.npath, (size_t)SC_MAX_PATH_LEN * 8);
  sc_buf_reset(w.path);
  sc_buf_reset(w.npath);
  int rc = sc_buf_putc(w.path, '$');
  rc |= sc_buf_putc(w.npath, '$');
  if (rc) {
    rc = SC_ENOMEM;
    goto out;
  }
  if (!ignored(&w)) walk_node(&w, a, b);
  if (w.nomem) {
    rc = SC_ENOMEM;
    goto out;
  }
  if (w.too_deep) res->cls = SC_DC_TOO_DEEP;
  else res->cls = res->n || res->truncated ? SC_DC_DIFFER : SC_DC_EQUAL;
out:
  return rc;
}

/* ---- decoding and parsing ---------------------------------------------- */

static int inflate_all(const void *p, size_t n, int wbits, size_t max, struct sc_buf *out) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, wbits) != Z_OK) return SC_ENOMEM;
  int rc = SC_OK;
  z.next_in = (Bytef *)(uintptr_t)p;
  unsigned char chunk[16384];
  size_t left = n;
  int zr = Z_OK;
  while (zr != Z_STREAM_END) {
    if (z.avail_in == 0) {
      if (!left) {
        rc = SC_ECORRUPT; /* truncated stream */
        break;
      }
      z.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
      left -= z.avail_in;
    }
    z.next_out = chunk;
    z.avail_out = sizeof chunk;
    zr = inflate(&z, Z_NO_FLUSH);
    if (zr != Z_OK && zr != Z_STREAM_END) {
      rc = zr == Z_MEM_ERROR ? SC_ENOMEM : SC_ECORRUPT;
      break;
    }
    size_t got = sizeof chunk - z.avail_out;
    if (out->len + got > max) {
      rc = SC_ETOOBIG;
      break;
    }
    if (sc_buf_append(out, chunk, got)) {
      rc = SC_ETOOBIG;
      break;
    }
    if (zr == Z_OK && got == 0 && z.avail_in == 0 && !left) {
      rc = SC_ECORRUPT;
      break;
    }
  }
  inflateEnd(&z);
  return rc;
}

int sc_diff_decode(const char *enc, const void *p, size_t n, size_t max, struct sc_buf *out) {
  sc_buf_reset(out);
  if (!enc || !*enc || !strcasecmp(enc, "identity")) {
    if (n > max) return SC_ETOOBIG;
    return sc_buf_append(out, p, n) ? SC_ETOOBIG : SC_OK;
  }
  if (!strcasecmp(enc, "gzip") || !strcasecmp(enc, "x-gzip")) return inflate_all(p, n, 15 + 16, max, out);
  if (!strcasecmp(enc, "deflate")) {
    /* RFC 9110 says zlib (RFC 1950); some servers send raw deflate. */
    int rc = inflate_all(p, n, 15, max, out);
    if (rc == SC_ECORRUPT) {
      sc_buf_reset(out);
      rc = inflate_all(p, n, -15, max, out);
    }
    return rc;
  }
  return SC_EUNSUPPORTED;
}

void sc_parsed_init(struct sc_parsed *p) {
  memset(p, 0, sizeof *p);
  sc_buf_init(&p->bytes, SC_MAX_BODY_LIMIT);
}

void sc_parsed_release(struct sc_parsed *p) {
  if (p->json) json_decref(p->json);
  p->json = NULL;
  sc_buf_release(&p->bytes);
  p->cls = SC_DC_EMPTY;
  p->ctype[0] = '\0';
}

/* Maximum nesting of [ and { outside strings (stops counting past limit). */
static size_t json_depth(const char *s, size_t n, size_t limit) {
  size_t d = 0, maxd = 0;
  int in_str = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (in_str) {
      if (c == '\\') i++;
      else if (c == '"') in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '[' || c == '{') {
      if (++d > maxd) maxd = d;
      if (maxd > limit) return maxd;
    } else if ((c == ']' || c == '}') && d) {
      d--;
    }
  }
  return maxd;
}

/* Keeps a non-JSON body's bytes (the input may not outlive the parse). */
static int keep_bytes(struct sc_parsed *p, const char *s, size_t n) {
  sc_buf_reset(&p->bytes);
  if (sc_buf_append(&p->bytes, s, n)) {
    p->cls = SC_DC_TOO_LARGE;
    sc_buf_reset(&p->bytes);
  }
  return SC_OK;
}

int sc_diff_parse(const struct sc_diff_rules *rules, const struct sc_body *body, struct sc_parsed *p) {
  size_t max = p->bytes.max;
  sc_parsed_release(p);
  sc_buf_init(&p->bytes, max ? max : SC_MAX_BODY_LIMIT);
  /* media type: lower-case, no parameters */
  size_t k = 0;
  if (body->content_type) {
    const char *c = body->content_type;
    while (*c == ' ' || *c == '\t') c++;
    for (; *c && *c != ';' && *c != ' ' && k + 1 < sizeof p->ctype; c++)
      p->ctype[k++] = (char)tolower((unsigned char)*c);
  }
  p->ctype[k] = '\0';
  if (!body->n) {
    p->cls = SC_DC_EMPTY;
    return SC_OK;
  }
  const char *enc = body->content_encoding;
  int identity = !enc || !*enc || !strcasecmp(enc, "identity");
  const char *s;
  size_t n;
  if (identity) {
    /* parsed in place; copied only when kept as non-JSON bytes */
    if (body->n > rules->max_bytes) {
      p->cls = SC_DC_TOO_LARGE;
      return SC_OK;
    }
    s = body->p;
    n = body->n;
  } else {
    int rc = sc_diff_decode(enc, body->p, body->n, rules->max_bytes, &p->bytes);
    if (rc == SC_ENOMEM) return rc;
    if (rc == SC_ETOOBIG) {
      p->cls = SC_DC_TOO_LARGE;
      sc_buf_reset(&p->bytes);
      return SC_OK;
    }
    if (rc) {
      p->cls = SC_DC_DECODE_ERROR;
      sc_buf_reset(&p->bytes);
      return SC_OK;
    }
    s = p->bytes.p;
    n = p->bytes.len;
  }
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
  int claims_json = !strcmp(p->ctype, "application/json") ||
                    (k > 5 && !strcmp(p->ctype + k - 5, "+json")) || !strcmp(p->ctype, "text/json");
  int looks_json = i < n && (s[i] == '{' || s[i] == '[');
  if (i == n) {
    p->cls = claims_json || !n ? SC_DC_EMPTY : SC_DC_NON_JSON_EQUAL;
    if (p->cls == SC_DC_EMPTY) sc_buf_reset(&p->bytes);
    else if (identity) return keep_bytes(p, s, n);
    return SC_OK;
  }
  if (!claims_json && !(looks_json && (!k || !strncmp(p->ctype, "text/plain", 10)))) {
    p->cls = SC_DC_NON_JSON_EQUAL;
    return identity ? keep_bytes(p, s, n) : SC_OK;
  }
  if (json_depth(s, n, rules->max_depth) > rules->max_depth) {
    p->cls = SC_DC_TOO_DEEP;
    return SC_OK;
  }
  json_error_t je;
  size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
  json_t *j = json_loadb(s, n, flags, &je);
  if (!j && json_error_code(&je) == json_error_numeric_overflow)
    j = json_loadb(s, n, flags | JSON_DECODE_INT_AS_REAL, &je);
  if (!j) {
    /* A body without a JSON content type that does not parse is plain bytes. */
    p->cls = claims_json ? SC_DC_INVALID_JSON : SC_DC_NON_JSON_EQUAL;
    return identity && !claims_json ? keep_bytes(p, s, n) : SC_OK;
  }
  p->json = j;
  p->cls = SC_DC_EQUAL;
  sc_buf_reset(&p->bytes);
  return SC_OK;
}

static int is_err_class(enum sc_diff_class c) {
  return c == SC_DC_INVALID_JSON || c == SC_DC_TOO_DEEP || c == SC_DC_TOO_LARGE ||
         c == SC_DC_DECODE_ERROR || c == SC_DC_ERROR;
}

int sc_diff_parsed(const struct sc_diff_rules *rules, const struct sc_parsed *a,
                   const struct sc_parsed *b, struct sc_diff_result *res) {
  sc_diff_result_reset(res);
  if (is_err_class(a->cls) || is_err_class(b->cls)) {
    res->cls = is_err_class(a->cls) ? a->cls : b->cls;
    return SC_OK;
  }
  if (a->json && b->json) return sc_diff_json(rules, a->json, b->json, res);
  if (a->cls == SC_DC_EMPTY && b->cls == SC_DC_EMPTY) {
    res->cls = SC_DC_EMPTY;
    return SC_OK;
  }
  if ((a->cls == SC_DC_EMPTY && b->json) || (b->cls == SC_DC_EMPTY && a->json)) {
    struct sc_diff_entry *e = malloc(sizeof *e);
    if (!e) return SC_ENOMEM;
    free(res->v);
    res->v = e;
    res->cap = 1;
    e->path_off = 0;
    e->npath_off = 0;
    if (sc_buf_append(&res->pool, "$", 2)) return SC_ENOMEM;
    e->kind = a->json ? SC_DIFF_REMOVED : SC_DIFF_ADDED;
    e->a = a->json;
    e->b = b->json;
    res->n = 1;
    res->cls = SC_DC_DIFFER;
    return SC_OK;
  }
  /* At least one side is not JSON: content type and bytes. */
  int same = !strcmp(a->ctype, b->ctype) && !a->json && !b->json && a->bytes.len == b->bytes.len &&
             !memcmp(a->bytes.p, b->bytes.p, a->bytes.len);
  res->cls = same ? SC_DC_NON_JSON_EQUAL : SC_DC_NON_JSON_DIFFER;
  return SC_OK;
}

int sc_diff_bodies(const struct sc_diff_rules *rules, const struct sc_body *a,
                   const struct sc_body *b, struct sc_diff_result *res) {
  struct sc_parsed pa, pb;
  sc_parsed_init(&pa);
  sc_parsed_init(&pb);
  int rc = sc_diff_parse(rules, a, &pa);
  if (!rc) rc = sc_diff_parse(rules, b, &pb);
  if (!rc) rc = sc_diff_parsed(rules, &pa, &pb, res);
  /* entries point into the documents: bodies compared this way keep no
   * values (a and b are cleared before the documents go) */
  for (size_t i = 0; i < res->n; i++) res->v[i].a = res->v[i].b = NULL;
  sc_parsed_release(&pa);
  sc_parsed_release(&pb);
  return rc;
}

void sc_diff_value_text(const json_t *node, char *out, size_t n) {
  if (!n) return;
  out[0] = '\0';
  if (!node) return;
  char *s = json_dumps(node, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
  if (!s) return;
  size_t l = strlen(s);
  if (l < n) {
    memcpy(out, s, l + 1);
  } else if (n > 4) {
    memcpy(out, s, n - 4);
    memcpy(out + n - 4, "...", 4);
  }
  free(s);
}

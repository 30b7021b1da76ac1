/*
 * labels.c - `shadowctl labels import`: ground-truth labels from CSV (RFC 4180:
 * header row, quoted fields with "" escapes and embedded newlines) or JSON
 * lines, keyed by request key, upserted into the labels table with prepared
 * statements (keys and labels stored verbatim). Stage: analyze. Reference:
 * RFC 4180, JSON Lines (jsonlines.org), schemas/analysis.sql (labels,
 * label_imports).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "analyze/analyze.h"
#include "store/db.h"
#include "util/buf.h"
#include "util/limits.h"

#define MAX_LABEL_FILE (1024u << 20)
#define MAX_COLUMNS 1024

struct imp {
  sqlite3 *db;
  const char *name;
  const struct sc_labels_opts *o;
  struct sc_labels_result *res;
  struct sc_error *err;
  sqlite3_stmt *ins, *match;
  char now[32];
};

static int is_positive(const struct imp *m, const char *label) {
  if (m->o->positive) return !strcmp(label, m->o->positive);
  static const char *const def[] = {"1", "true", "fraud", "positive", "yes"};
  for (size_t i = 0; i < sizeof def / sizeof def[0]; i++)
    if (!strcasecmp(label, def[i])) return 1;
  return 0;
}

static int store(struct imp *m, size_t line, const char *key, size_t kn, const char *label, size_t ln) {
  if (!kn) return sc_error_set(m->err, SC_EPARSE_CSV, "%s:%zu: empty request key", m->name, line);
  char *lab = sc_memdup0(label, ln);
  if (!lab) return sc_error_set(m->err, SC_ENOMEM, "out of memory");
  int pos = is_positive(m, lab);
  free(lab);
  sqlite3_stmt *st = m->ins;
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, key, (int)kn, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, label, (int)ln, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 3, pos);
  sqlite3_bind_text(st, 4, m->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, m->now, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE) return sc_db_err(m->db, "cannot store label", m->err);
  st = m->match;
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, key, (int)kn, SQLITE_TRANSIENT);
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) m->res->matched++;
  else if (r == SQLITE_DONE) m->res->unmatched++;
  else return sc_db_err(m->db, "cannot match label", m->err);
  m->res->rows++;
  m->res->positives += pos;
  return SC_OK;
}

/* ---- CSV --------------------------------------------------------------- */

struct field {
  size_t off, len; /* into the record buffer */
};

/* Reads one record starting at *pos into rec (unescaped fields, back to back)
 * and f[]. *line advances over newlines (also inside quotes). Returns the
 * number of fields, 0 at end of input, or a negative error (message set). */
static int csv_record(struct imp *m, const char *s, size_t n, size_t *pos, size_t *line, struct sc_buf *rec,
                      struct field *f, size_t maxf) {
  size_t i = *pos;
  if (i >= n) return 0;
  sc_buf_reset(rec);
  size_t nf = 0;
  size_t start_line = *line;
  for (;;) {
    if (nf == maxf) return sc_error_set(m->err, SC_EPARSE_CSV, "%s:%zu: more than %zu fields", m->name, start_line, maxf);
    f[nf].off = rec->len;
    int rc = 0;
    if (i < n && s[i] == '"') {
      i++;
      for (;;) {
        if (i >= n)
          return sc_error_set(m->err, SC_EPARSE_CSV, "%s:%zu: unterminated quoted field", m->name, start_line);
        if (s[i] == '"') {
          if (i + 1 < n && s[i + 1] == '"') {
            rc |= sc_buf_putc(rec, '"');
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (s[i] == '\n') (*line)++;
        rc |= sc_buf_putc(rec, s[i++]);
      }
      if (i < n && s[i] != ',' && s[i] != '\n' && s[i] != '\r')
        return sc_error_set(m->err, SC_EPARSE_CSV, "%s:%zu: unexpected character after closing quote", m->name, *line);
    } else {
      while (i < n && s[i] != ',' && s[i] != '\n' && s[i] != '\r') {
        if (s[i] == '"')
          return sc_error_set(m->err, SC_EPARSE_CSV, "%s:%zu: quote inside an unquoted field", m->name, *line);
        rc |= sc_buf_putc(rec, s[i++]);
      }
    }
    if (rc) return sc_error_set(m->err, SC_EPARSE_CSV, "%s:%zu: record longer than %u bytes", m->name, start_line,
                                (unsigned)SC_MAX_LABEL_LINE);
    f[nf].len = rec->len - f[nf].off;
    nf++;
    if (i < n && s[i] == ',') {
      i++;
      continue;
    }
    if (i < n && s[i] == '\r') i++;
    if (i < n && s[i] == '\n') i++;
    (*line)++;
    break;
  }
  *pos = i;
  return (int)nf;
}

static int find_col(const char *rec, const struct field *f, size_t nf, const char *name) {
  for (size_t i = 0; i < nf; i++)
    if (f[i].len == strlen(name) && !memcmp(rec + f[i].off, name, f[i].len)) return (int)i;
  return -1;
}

static int import_csv(struct imp *m, const char *s, size_t n) {
  int rc = SC_OK;
  struct sc_buf rec;
  sc_buf_init(&rec, SC_MAX_LABEL_LINE);
  struct field *f = calloc(MAX_COLUMNS, sizeof *f);
  if (!f) return sc_error_set(m->err, SC_ENOMEM, "out of memory");
  size_t pos = 0, line = 1;
  if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) pos = 3; /* UTF-8 BOM */
  int nf = csv_record(m, s, n, &pos, &line, &rec, f, MAX_COLUMNS);
  if (nf < 0) {
    rc = nf;
    goto out;
  }
  if (nf == 0) {
    rc = sc_error_set(m->err, SC_EPARSE_CSV, "%s:1: empty file (expected a header row)", m->name);
    goto out;
  }
  int kc = -1, lc;
  if (m->o->key_column) {
    kc = find_col(rec.p, f, (size_t)nf, m->o->key_column);
  } else {
    static const char *const keys[] = {"request_key", "txn_id", "key", "id"};
    for (size_t i = 0; i < 4 && kc < 0; i++) kc = find_col(rec.p, f, (size_t)nf, keys[i]);
  }
  const char *lname = m->o->label_column ? m->o->label_column : "label";
  lc = find_col(rec.p, f, (size_t)nf, lname);
  if (kc < 0) {
    rc = sc_error_set(m->err, SC_EPARSE_CSV, "%s:1: no key column '%s' in the header", m->name,
                      m->o->key_column ? m->o->key_column : "request_key");
    goto out;
  }
  if (lc < 0) {
    rc = sc_error_set(m->err, SC_EPARSE_CSV, "%s:1: no label column '%s' in the header", m->name, lname);
    goto out;
  }
  int ncols = nf;
  for (;;) {
    size_t at_line = line;
    nf = csv_record(m, s, n, &pos, &line, &rec, f, MAX_COLUMNS);
    if (nf < 0) {
      rc = nf;
      goto out;
    }
    if (nf == 0) break;
    if (nf == 1 && f[0].len == 0) continue; /* blank line */
    if (nf != ncols) {
      rc = sc_error_set(m->err, SC_EPARSE_CSV, "%s:%zu: expected %d fields, got %d", m->name, at_line, ncols, nf);
      goto out;
    }
    rc = store(m, at_line, rec.p + f[kc].off, f[kc].len, rec.p + f[lc].off, f[lc].len);
    if (rc) goto out;
  }
out:
  sc_buf_release(&rec);
  free(f);
  return rc;
}

/* ---- JSON lines -------------------------------------------------------- */

static int scalar_text(const json_t *v, char *out, size_t n) {
  if (json_is_string(v)) {
    size_t l = json_string_length(v);
    if (l >= n) return -1;
    memcpy(out, json_string_value(v), l);
    out[l] = '\0';
    return (int)l;
  }
  if (json_is_integer(v)) return snprintf(out, n, "%lld", (long long)json_integer_value(v));
  if (json_is_true(v)) return snprintf(out, n, "true");
  if (json_is_false(v)) return snprintf(out, n, "false");
  if (json_is_real(v)) return snprintf(out, n, "%.17g", json_real_value(v));
  return -1;
}

static int import_jsonl(struct imp *m, const char *s, size_t n) {
  const char *kname = m->o->key_column;
  const char *lname = m->o->label_column ? m->o->label_column : "label";
  size_t line = 0, pos = 0;
  char *key = malloc(SC_MAX_LABEL_LINE), *lab = malloc(SC_MAX_LABEL_LINE);
  int rc = SC_OK;
  if (!key || !lab) {
    rc = sc_error_set(m->err, SC_ENOMEM, "out of memory");
    goto out;
  }
  while (pos < n) {
    line++;
    const char *e = memchr(s + pos, '\n', n - pos);
    size_t len = e ? (size_t)(e - (s + pos)) : n - pos;
    const char *l = s + pos;
    pos += len + (e ? 1 : 0);
    size_t k = 0;
    while (k < len && (l[k] == ' ' || l[k] == '\t' || l[k] == '\r')) k++;
    if (k == len) continue;
    if (len > SC_MAX_LABEL_LINE) {
      rc = sc_error_set(m->err, SC_EPARSE_JSON, "%s:%zu: line longer than %u bytes", m->name, line, (unsigned)SC_MAX_LABEL_LINE);
      goto out;
    }
    json_error_t je;
    json_t *o = json_loadb(l, len, JSON_ALLOW_NUL, &je);
    if (!o) {
      rc = sc_error_set(m->err, SC_EPARSE_JSON, "%s:%zu: %s (column %d)", m->name, line, je.text, je.column);
      goto out;
    }
    if (!json_is_object(o)) {
      json_decref(o);
      rc = sc_error_set(m->err, SC_EPARSE_JSON, "%s:%zu: expected a JSON object", m->name, line);
      goto out;
    }
    json_t *kv = NULL;
    const char *used = kname;
    if (kname) {
      kv = json_object_get(o, kname);
    } else {
      static const char *const keys[] = {"request_key", "txn_id", "key", "id"};
      for (size_t i = 0; i < 4 && !kv; i++) kv = json_object_get(o, used = keys[i]);
    }
    json_t *lv = json_object_get(o, lname);
    int kl = kv ? scalar_text(kv, key, SC_MAX_LABEL_LINE) : -1;
    int ll = lv ? scalar_text(lv, lab, SC_MAX_LABEL_LINE) : -1;
    json_decref(o);
    if (kl < 0) {
      rc = sc_error_set(m->err, SC_EPARSE_JSON, "%s:%zu: no key field '%s' (string or number)", m->name, line,
                        kname ? kname : "request_key");
      goto out;
    }
    if (ll < 0) {
      rc = sc_error_set(m->err, SC_EPARSE_JSON, "%s:%zu: no label field '%s' (string, number or boolean)", m->name,
                        line, lname);
      goto out;
    }
    (void)used;
    rc = store(m, line, key, (size_t)kl, lab, (size_t)ll);
    if (rc) goto out;
  }
out:
  free(key);
  free(lab);
  return rc;
}

/* ---- entry points ------------------------------------------------------ */

static enum sc_labels_format sniff(const char *name, const char *s, size_t n) {
  size_t l = strlen(name);
  if (l >= 4 && !strcasecmp(name + l - 4, ".csv")) return SC_LABELS_CSV;
  if ((l >= 6 && !strcasecmp(name + l - 6, ".jsonl")) || (l >= 7 && !strcasecmp(name + l - 7, ".ndjson")) ||
      (l >= 5 && !strcasecmp(name + l - 5, ".json")))
    return SC_LABELS_JSONL;
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
  return i < n && s[i] == '{' ? SC_LABELS_JSONL : SC_LABELS_CSV;
}

int sc_labels_import_buffer(sqlite3 *db, const char *name, const char *data, size_t n,
                            const struct sc_labels_opts *opts, struct sc_labels_result *res,
                            struct sc_error *err) {
  struct sc_labels_opts def = {0};
  struct imp m = {db, name, opts ? opts : &def, res, err, NULL, NULL, {0}};
  memset(res, 0, sizeof *res);
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(m.now, sizeof m.now, "%Y-%m-%dT%H:%M:%SZ", &tm);
  enum sc_labels_format fmt = m.o->format ? m.o->format : sniff(name, data, n);
  int rc = sc_db_exec(db, "SAVEPOINT sc_labels", "cannot start label import", err);
  if (rc) return rc;
  rc = sc_db_prepare(db, &m.ins,
                     "INSERT INTO labels (request_key, label, positive, source, imported_at) VALUES (?,?,?,?,?)"
                     " ON CONFLICT(request_key) DO UPDATE SET label = excluded.label, positive = excluded.positive,"
                     " source = excluded.source, imported_at = excluded.imported_at", err);
  /* the keys replayed so far, as a temporary set: exchanges has no index on
   * request_key (it would slow every replay), and one pass here is cheaper
   * than a scan per label */
  if (!rc)
    rc = sc_db_exec(db,
                    "CREATE TEMP TABLE IF NOT EXISTS sc_label_keys (k TEXT PRIMARY KEY) WITHOUT ROWID;"
                    " DELETE FROM temp.sc_label_keys;"
                    " INSERT OR IGNORE INTO temp.sc_label_keys SELECT request_key FROM exchanges"
                    " WHERE request_key IS NOT NULL",
                    "cannot read the replayed request keys", err);
  if (!rc) rc = sc_db_prepare(db, &m.match, "SELECT 1 FROM temp.sc_label_keys WHERE k = ?", err);
  if (!rc) rc = fmt == SC_LABELS_JSONL ? import_jsonl(&m, data, n) : import_csv(&m, data, n);
  sqlite3_finalize(m.ins);
  sqlite3_finalize(m.match);
  m.ins = NULL;
  if (!rc) {
    rc = sc_db_prepare(db, &m.ins,
                       "INSERT INTO label_imports (source, format, imported_at, rows, positives, matched, unmatched)"
                       " VALUES (?,?,?,?,?,?,?)", err);
    if (!rc) {
      sqlite3_bind_text(m.ins, 1, name, -1, SQLITE_STATIC);
      sqlite3_bind_text(m.ins, 2, fmt == SC_LABELS_JSONL ? "jsonl" : "csv", -1, SQLITE_STATIC);
      sqlite3_bind_text(m.ins, 3, m.now, -1, SQLITE_STATIC);
      sqlite3_bind_int64(m.ins, 4, res->rows);
      sqlite3_bind_int64(m.ins, 5, res->positives);
      sqlite3_bind_int64(m.ins, 6, res->matched);
      sqlite3_bind_int64(m.ins, 7, res->unmatched);
      if (sqlite3_step(m.ins) != SQLITE_DONE) rc = sc_db_err(db, "cannot record label import", err);
      sqlite3_finalize(m.ins);
    }
  }
  if (rc) {
    sqlite3_exec(db, "ROLLBACK TO sc_labels; RELEASE sc_labels", NULL, NULL, NULL);
    sqlite3_exec(db, "DROP TABLE IF EXISTS temp.sc_label_keys", NULL, NULL, NULL);
    return rc;
  }
  rc = sc_db_exec(db, "RELEASE sc_labels", "cannot commit label import", err);
  sqlite3_exec(db, "DROP TABLE IF EXISTS temp.sc_label_keys", NULL, NULL, NULL);
  return rc;
}

int sc_labels_import(sqlite3 *db, const char *path, const struct sc_labels_opts *opts,
                     struct sc_labels_result *res, struct sc_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return sc_error_set(err, errno == ENOENT ? SC_ENOENT : errno == EACCES ? SC_EACCES : SC_EIO,
                        "cannot open labels file '%s': %s", path, strerror(errno));
  struct sc_buf b;
  sc_buf_init(&b, MAX_LABEL_FILE);
  int rc = SC_OK;
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (sc_buf_append(&b, chunk, got)) {
      rc = sc_error_set(err, SC_ETOOBIG, "labels file '%s' is larger than %u MiB", path, MAX_LABEL_FILE >> 20);
      break;
    }
  }
  if (!rc && ferror(f)) rc = sc_error_set(err, SC_EIO, "cannot read labels file '%s'", path);
  fclose(f);
  if (!rc) rc = sc_labels_import_buffer(db, path, b.p, b.len, opts, res, err);
  sc_buf_release(&b);
  return rc;
}

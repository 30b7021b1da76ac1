/*
 * fuzz_labels.c - libFuzzer target: the labels importer (CSV and JSON lines)
 * on arbitrary bytes, into an in-memory results database. Stage: analyze.
 * Reference: src/analyze/labels.c, RFC 4180. Run with scripts/fuzz.sh labels
 * SECONDS. Seeds: tests/fuzz/corpus/labels/.
 *
 * Properties checked: no crash, leak or sanitizer report; a failure returns a
 * parse code with a message starting "fuzz:LINE:" and imports nothing (the
 * import is all-or-nothing); on success the labels table holds at most the
 * rows read, every key verbatim.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "store/db.h"
#include "util/embed.h"

SC_EMBED_DECLARE(sc_embed_results_sql);
SC_EMBED_DECLARE(sc_embed_analysis_sql);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t count(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sqlite3 *db;
  struct sc_error err;
  if (!db) {
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
    if (sc_db_exec(db, sc_embed_results_sql, "schema", &err) || sc_db_exec(db, sc_embed_analysis_sql, "schema", &err))
      abort();
  }
  if (sc_db_exec(db, "DELETE FROM labels; DELETE FROM label_imports;", "reset", &err)) abort();
  if (!size) return 0;
  struct sc_labels_opts o = {0};
  o.format = (data[0] & 1) ? SC_LABELS_JSONL : SC_LABELS_CSV;
  if (data[0] & 2) o.positive = "fraud";
  if (data[0] & 4) o.key_column = "k";
  struct sc_labels_result res;
  sc_error_init(&err);
  int rc = sc_labels_import_buffer(db, "fuzz", (const char *)data + 1, size - 1, &o, &res, &err);
  int64_t n = count(db, "SELECT count(*) FROM labels");
  if (rc) {
    if (rc != SC_EPARSE_CSV && rc != SC_EPARSE_JSON && rc != SC_ENOMEM) abort();
    if (rc != SC_ENOMEM && strncmp(err.msg, "fuzz:", 5)) abort();
    if (n != 0 || count(db, "SELECT count(*) FROM label_imports") != 0) abort();
  } else {
    if (n > res.rows || res.matched + res.unmatched != res.rows || res.positives > res.rows) abort();
  }
  return 0;
}

/*
 * db.c - results database: open, pragmas, schema from the embedded
 * schemas/<name>.sql. Stage: store. Reference: schemas/results.sql.
 */
#include "store/db.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/embed.h"

SC_EMBED_DECLARE(sc_embed_results_sql);
SC_EMBED_DECLARE(sc_embed_analysis_sql);

int sc_db_err(sqlite3 *db, const char *what, struct sc_error *err) {
  int ec = db ? sqlite3_extended_errcode(db) & 0xff : SQLITE_ERROR;
  int code = SC_EDB;
  if (ec == SQLITE_FULL) code = SC_ENOSPC;
  else if (ec == SQLITE_READONLY || ec == SQLITE_PERM || ec == SQLITE_CANTOPEN) code = SC_EACCES;
  else if (ec == SQLITE_NOMEM) code = SC_ENOMEM;
  return sc_error_set(err, code, "%s: %s", what, db ? sqlite3_errmsg(db) : "no database");
}

int sc_db_exec(sqlite3 *db, const char *sql, const char *what, struct sc_error *err) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc == SQLITE_OK) return SC_OK;
  int ec = rc & 0xff;
  int code = ec == SQLITE_FULL ? SC_ENOSPC : (ec == SQLITE_READONLY ? SC_EACCES : SC_EDB);
  sc_error_set(err, code, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
  sqlite3_free(msg);
  return code;
}

int sc_db_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql, struct sc_error *err) {
  if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
    return sc_db_err(db, "cannot prepare statement", err);
  return SC_OK;
}

/* Once per process, before SQLite initialises itself: no memory statistics
 * (with them every sqlite3_malloc/free takes a global mutex; nothing here
 * reads sqlite3_memory_used). If SQLite was already initialised this fails
 * with SQLITE_MISUSE and nothing changes. */
static void global_config(void) { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

static int user_version(sqlite3 *db, int *v, struct sc_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = sc_db_prepare(db, &st, "PRAGMA user_version", err);
  if (rc) return rc;
  if (sqlite3_step(st) == SQLITE_ROW) *v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return SC_OK;
}

int sc_db_open(sqlite3 **out, const char *path, int flags, struct sc_error *err) {
  int rc = SC_OK;
  sqlite3 *db = NULL;
  *out = NULL;
  struct stat sb;
  int exists = stat(path, &sb) == 0;
  if (!exists && !(flags & SC_DB_CREATE))
    return sc_error_set(err, SC_ENOENT, "cannot open database '%s': no such file", path);
  if (exists && S_ISDIR(sb.st_mode))
    return sc_error_set(err, SC_EINVAL, "cannot open database '%s': is a directory", path);
  if (!exists) {
    /* Create the file ourselves so it is 0600 whatever the umask. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      int e = errno;
      return sc_error_set(err, e == EACCES || e == EROFS || e == EPERM ? SC_EACCES :
                          e == ENOENT ? SC_ENOENT : SC_EIO,
                          "cannot create database '%s': %s", path, strerror(e));
    }
    close(fd);
  }
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, global_config);
  int oflags = (flags & SC_DB_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (sqlite3_open_v2(path, &db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    rc = sc_db_err(db, "cannot open database", err);
    sc_error_prefix(err, "'%s'", path);
    goto out;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  /* A file that is not a database fails here with "file is not a database". */
  if (!(flags & SC_DB_READONLY)) {
    /* page_size applies to a new file only (before WAL is set): 16 KiB
     * pages write a replay's rows with a quarter of the WAL writes of 4 KiB
     * ones (one pwrite per page per commit). */
    rc = sc_db_exec(db,
                    "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    " PRAGMA foreign_keys=ON;",
                    "cannot configure database", err);
    if (rc) goto prefix;
  } else {
    rc = sc_db_exec(db, "PRAGMA foreign_keys=ON;", "cannot configure database", err);
    if (rc) goto prefix;
  }
  int v = 0;
  rc = user_version(db, &v, err);
  if (rc) goto prefix;
  if (v > SC_DB_SCHEMA_VERSION) {
    rc = sc_error_set(err, SC_EVERSION,
                      "database schema version %d is newer than this shadowctl supports (%d)", v,
                      SC_DB_SCHEMA_VERSION);
    goto prefix;
  }
  if (!(flags & SC_DB_READONLY)) {
    rc = sc_db_exec(db, "BEGIN IMMEDIATE", "cannot migrate schema", err);
    if (rc) goto prefix;
    rc = sc_db_exec(db, sc_embed_results_sql, "cannot create schema (results.sql)", err);
    if (!rc) rc = sc_db_exec(db, sc_embed_analysis_sql, "cannot create schema (analysis.sql)", err);
    if (!rc && v < SC_DB_SCHEMA_VERSION) {
      char sql[64];
      snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SC_DB_SCHEMA_VERSION);
      rc = sc_db_exec(db, sql, "cannot set schema version", err);
    }
    if (rc) {
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      goto prefix;
    }
    rc = sc_db_exec(db, "COMMIT", "cannot migrate schema", err);
    if (rc) goto prefix;
  }
  *out = db;
  return SC_OK;
prefix:
  sc_error_prefix(err, "database '%s'", path);
out:
  if (db) sqlite3_close(db);
  return rc;
}

void sc_db_close(sqlite3 *db) {
  if (db) sqlite3_close_v2(db);
}

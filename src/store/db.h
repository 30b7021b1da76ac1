/*
 * db.h - open the results database, set pragmas, create/migrate the schema
 * from the embedded schemas/results.sql and schemas/analysis.sql.
 *
 * Created mode 0600, WAL journal, foreign keys on, busy timeout 5 s.
 */
#ifndef SC_STORE_DB_H
#define SC_STORE_DB_H

#include <sqlite3.h>

#include "util/err.h"

#define SC_DB_SCHEMA_VERSION 1

enum sc_db_flags {
  SC_DB_CREATE = 1,   /* create if missing (replay); else it must exist (report, gate) */
  SC_DB_READONLY = 2,
};

/* Opens (and creates/migrates) path. On success *out is an open connection;
 * close with sc_db_close(). Errors: SC_ENOENT (missing and not SC_DB_CREATE),
 * SC_EACCES, SC_EDB ("cannot open database 'x': ..."), SC_EVERSION (newer
 * schema than this binary). */
int sc_db_open(sqlite3 **out, const char *path, int flags, struct sc_error *err) SC_MUST_CHECK;
void sc_db_close(sqlite3 *db);

/* Runs sql (one or more statements, no parameters) or fills err with the
 * SQLite message prefixed by what. */
int sc_db_exec(sqlite3 *db, const char *sql, const char *what, struct sc_error *err) SC_MUST_CHECK;

/* Prepares one statement or fills err. */
int sc_db_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql, struct sc_error *err) SC_MUST_CHECK;

/* Fills err from db's last error: "what: sqlite message"; maps SQLITE_FULL to
 * SC_ENOSPC, SQLITE_READONLY/PERM/CANTOPEN to SC_EACCES, else SC_EDB. */
int sc_db_err(sqlite3 *db, const char *what, struct sc_error *err);

#endif

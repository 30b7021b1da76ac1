/*
 * cmd_runs.c - `shadowctl runs`: lists the runs of a results database with
 * their counts and status. Stage: cli. Reference: schemas/results.sql.
 *
 * A run left 'running' by a process that no longer exists on this host
 * (kill -9, crash) is marked 'interrupted' first (when the database is
 * writable) or shown as interrupted (read-only).
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/db.h"
#include "store/writer.h"

enum { OPT_DB = 1, OPT_JSON };

static const struct sc_opt opts[] = {
  {OPT_DB, "db", 0, SC_ARG_REQUIRED, "FILE", "Results database (default results.db)."},
  {OPT_JSON, "json", 0, SC_ARG_NONE, NULL, "One JSON array of runs on stdout."},
  {0, NULL, 0, SC_ARG_NONE, NULL, NULL},
};

const struct sc_cmd_desc cmd_runs_desc = {
  .name = "runs",
  .synopsis = "[--db FILE] [--json]",
  .summary = "list the runs of a results database",
  .description = "Lists every run: id, start time, mode and fraction, targets, requests replayed, errors per "
                 "target, and status (running, completed, interrupted, aborted). A run whose replaying process "
                 "died (kill -9, crash) is shown as interrupted with the exchanges it had committed.",
  .opts = opts,
  .epilogue = "Exit status: 0 ok; 2 the database is missing or unreadable.",
};

static const char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *s = sqlite3_column_text(st, i);
  return s ? (const char *)s : "";
}

int cmd_runs(int argc, char **argv) {
  const struct sc_cmd_desc *d = &cmd_runs_desc;
  const char *db_path = "results.db";
  int json = 0, ret = SC_EXIT_USAGE;
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL, *tst = NULL;
  json_t *arr = NULL;
  struct sc_error err;
  sc_error_init(&err);
  struct sc_optparser op;
  sc_opts_begin(&op, d, argc, argv);
  int id;
  const char *arg;
  while ((id = sc_opts_next(&op, &arg)) != SC_OPT_END) {
    switch (id) {
    case SC_OPT_HELP:
      sc_opts_print_help(stdout, d);
      ret = SC_EXIT_OK;
      goto out;
    case SC_OPT_ERROR: goto out;
    case OPT_DB: db_path = arg; break;
    case OPT_JSON: json = 1; break;
    }
  }
  if (op.optind != argc) {
    sc_opts_usage_error(d, "unexpected argument '%s'", argv[op.optind]);
    goto out;
  }
  int ro = 0;
  if (sc_db_open(&db, db_path, 0, &err)) {
    sc_error_init(&err);
    if (sc_db_open(&db, db_path, SC_DB_READONLY, &err)) {
      ret = sc_cli_error("runs", &err);
      goto out;
    }
    ro = 1;
  }
  if (!ro) {
    int n = 0;
    if (sc_store_reap_dead_runs(db, &n, &err)) sc_error_init(&err); /* listing still works */
  }
  if (sc_db_prepare(db, &st,
                    "SELECT r.id, r.started_at, r.mode, r.fraction, r.steps, r.current_url, r.candidate_url,"
                    " r.secondary_url, (SELECT COUNT(*) FROM exchanges e WHERE e.run_id=r.id),"
                    " r.status, r.status_reason, r.pid, r.finished_at, r.traffic_file, r.aborted_step,"
                    " r.traffic_error, r.host FROM runs r ORDER BY r.id",
                    &err) ||
      sc_db_prepare(db, &tst,
                    "SELECT target, COUNT(*), SUM(error IS NOT NULL) FROM responses WHERE run_id=?1"
                    " GROUP BY target ORDER BY CASE target WHEN 'current' THEN 0 WHEN 'candidate' THEN 1 ELSE 2 END",
                    &err)) {
    ret = sc_cli_error("runs", &err);
    goto out;
  }
  if (json) arr = json_array();
  else
    printf("%-4s %-24s %-16s %-8s %-11s %-40s %s\n", "ID", "STARTED", "MODE", "REQUESTS", "STATUS", "ERRORS",
           "TARGETS");
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t rid = sqlite3_column_int64(st, 0);
    const char *mode = col_text(st, 2);
    double frac = sqlite3_column_double(st, 3);
    int64_t requests = sqlite3_column_int64(st, 8);
    const char *status = col_text(st, 9);
    /* read-only database: a 'running' run whose process is gone on this host
     * is shown as interrupted (a writable one was already marked) */
    if (ro && !strcmp(status, "running") && sqlite3_column_type(st, 11) != SQLITE_NULL) {
      char host[256] = "";
      pid_t pid = (pid_t)sqlite3_column_int64(st, 11);
      if (gethostname(host, sizeof host - 1) == 0 && !strcmp(host, col_text(st, 16)) && pid > 0 &&
          kill(pid, 0) != 0 && errno == ESRCH)
        status = "interrupted";
    }
    char modebuf[64];
    if (!strcmp(mode, "single")) snprintf(modebuf, sizeof modebuf, "single");
    else if (sqlite3_column_type(st, 4) != SQLITE_NULL) snprintf(modebuf, sizeof modebuf, "canary steps");
    else snprintf(modebuf, sizeof modebuf, "%s %g%%", mode, frac * 100.0);
    /* per-target errors */
    char errs[256] = "";
    size_t eo = 0;
    json_t *jt = json ? json_object() : NULL;
    sqlite3_bind_int64(tst, 1, rid);
    while (sqlite3_step(tst) == SQLITE_ROW) {
      const char *t = col_text(tst, 0);
      int64_t n = sqlite3_column_int64(tst, 1), e = sqlite3_column_int64(tst, 2);
      if (eo < sizeof errs)
        eo += (size_t)snprintf(errs + eo, sizeof errs - eo, "%s%s %lld/%lld", eo ? ", " : "", t, (long long)e,
                               (long long)n);
      if (jt) {
        json_t *o = json_object();
        json_object_set_new(o, "responses", json_integer(n));
        json_object_set_new(o, "errors", json_integer(e));
        json_object_set_new(jt, t, o);
      }
    }
    sqlite3_reset(tst);
    if (json) {
      json_t *o = json_object();
      json_object_set_new(o, "id", json_integer(rid));
      json_object_set_new(o, "started_at", json_string(col_text(st, 1)));
      json_object_set_new(o, "finished_at", sqlite3_column_type(st, 12) == SQLITE_NULL ? json_null()
                                                                                       : json_string(col_text(st, 12)));
      json_object_set_new(o, "traffic_file", json_string(col_text(st, 13)));
      json_object_set_new(o, "mode", json_string(mode));
      json_object_set_new(o, "fraction", json_real(frac));
      if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
        json_t *sj = json_loads(col_text(st, 4), 0, NULL);
        json_object_set_new(o, "steps", sj ? sj : json_null());
      }
      json_t *tg = json_object();
      static const char *tn[3] = {"current", "candidate", "secondary"};
      for (int i = 0; i < 3; i++)
        if (sqlite3_column_type(st, 5 + i) != SQLITE_NULL) json_object_set_new(tg, tn[i], json_string(col_text(st, 5 + i)));
      json_object_set_new(o, "targets", tg);
      json_object_set_new(o, "requests", json_integer(requests));
      json_object_set_new(o, "responses", jt);
      json_object_set_new(o, "status", json_string(status));
      if (sqlite3_column_type(st, 10) != SQLITE_NULL)
        json_object_set_new(o, "status_reason", json_string(col_text(st, 10)));
      if (sqlite3_column_type(st, 14) != SQLITE_NULL)
        json_object_set_new(o, "aborted_step", json_integer(sqlite3_column_int(st, 14)));
      if (sqlite3_column_type(st, 15) != SQLITE_NULL)
        json_object_set_new(o, "traffic_error", json_string(col_text(st, 15)));
      json_array_append_new(arr, o);
    } else {
      char targets[512];
      snprintf(targets, sizeof targets, "%s%s%s%s%s", col_text(st, 5),
               sqlite3_column_type(st, 6) != SQLITE_NULL ? " " : "", col_text(st, 6),
               sqlite3_column_type(st, 7) != SQLITE_NULL ? " " : "", col_text(st, 7));
      printf("%-4lld %-24s %-16s %-8lld %-11s %-40s %s\n", (long long)rid, col_text(st, 1), modebuf,
             (long long)requests, status, errs[0] ? errs : "-", targets);
    }
  }
  if (rc != SQLITE_DONE) {
    sc_db_err(db, "cannot list runs", &err);
    ret = sc_cli_error("runs", &err);
    goto out;
  }
  if (json) {
    char *s = json_dumps(arr, JSON_INDENT(2));
    if (s) puts(s);
    free(s);
  }
  ret = SC_EXIT_OK;
out:
  json_decref(arr);
  sqlite3_finalize(st);
  sqlite3_finalize(tst);
  sc_db_close(db);
  sc_opts_end(&op);
  return ret;
}

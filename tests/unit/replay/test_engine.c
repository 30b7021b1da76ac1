/* test_engine.c - replay/engine.c + client.c in process: response framing
 * (Content-Length, chunked, close-delimited, HEAD, 1xx), redirects recorded
 * and never followed, keep-alive reuse and the retry after an idle close,
 * progressive canary steps with a breaching hook, refused targets, and the
 * store rows they leave. The server is a small thread-per-connection HTTP
 * responder on 127.0.0.1 with canned answers chosen by the request target. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xxhash.h>

#include "replay/replay.h"
#include "store/db.h"

/* ---- canned server ---- */

static atomic_int srv_conns, srv_reqs;
static atomic_int srv_other_host_hits;
static pthread_mutex_t head_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_head[4096]; /* head of the last request served */

struct canned {
  const char *target;
  const char *resp; /* NULL: close without answering */
  int close_after;
};

static const struct canned canned[] = {
  {"/cl", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello", 0},
  {"/chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", 0},
  {"/eof", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-close", 1},
  {"/redirect", "HTTP/1.1 302 Found\r\nLocation: http://10.255.255.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n", 0},
  {"/interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 0},
  {"/head", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0},
  {"/bye", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nby", 1},
  {"/garbage", "NOT HTTP AT ALL\r\n\r\n", 1},
  {"/elsewhere", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0},
  /* keep-alive answer, then the server drops the connection a moment later
   * without saying so (idle timeout): the next request may meet EOF */
  {"/silent", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 2},
};

static void *conn_thread(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[65536];
  size_t have = 0;
  for (;;) {
    char *end = NULL;
    while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
      if (have == sizeof buf) goto out;
      ssize_t n = read(fd, buf + have, sizeof buf - have);
      if (n <= 0) goto out;
      have += (size_t)n;
    }
    size_t head = (size_t)(end - buf) + 4;
    size_t clen = 0;
    char *cl = strcasestr(buf, "Content-Length:");
    if (cl && cl < end) clen = strtoul(cl + 15, NULL, 10);
    while (have < head + clen) {
      ssize_t n = read(fd, buf + have, sizeof buf - have);
      if (n <= 0) goto out;
      have += (size_t)n;
    }
    atomic_fetch_add(&srv_reqs, 1);
    pthread_mutex_lock(&head_mu);
    size_t hn = head < sizeof last_head - 1 ? head : sizeof last_head - 1;
    memcpy(last_head, buf, hn);
    last_head[hn] = '\0';
    pthread_mutex_unlock(&head_mu);
    char target[256] = "";
    sscanf(buf, "%*s %255s", target);
    if (strstr(target, "/elsewhere")) atomic_fetch_add(&srv_other_host_hits, 1);
    const struct canned *c = NULL;
    for (size_t i = 0; i < sizeof canned / sizeof canned[0]; i++)
      if (!strncmp(target, canned[i].target, strlen(canned[i].target))) c = &canned[i];
    memmove(buf, buf + head + clen, have - head - clen);
    have -= head + clen;
    if (!c) goto out;
    if (write(fd, c->resp, strlen(c->resp)) < 0) goto out;
    if (c->close_after == 2) usleep(2000);
    if (c->close_after) goto out;
  }
out:
  close(fd);
  return NULL;
}

static void *accept_thread(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) return NULL;
    atomic_fetch_add(&srv_conns, 1);
    pthread_t th;
    pthread_create(&th, NULL, conn_thread, (void *)(intptr_t)fd);
    pthread_detach(th);
  }
}

static int start_server(void) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(listen(lfd, 64), 0);
  socklen_t al = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &al);
  pthread_t th;
  pthread_create(&th, NULL, accept_thread, (void *)(intptr_t)lfd);
  pthread_detach(th);
  return ntohs(a.sin_port);
}

static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(fd, (struct sockaddr *)&a, sizeof a);
  socklen_t al = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &al);
  close(fd);
  return ntohs(a.sin_port);
}

/* ---- in-memory source ---- */

struct memsrc {
  const char *const *targets; /* request targets, cycled */
  const char *method;
  size_t n_targets;
  size_t count, i;
  const char *const *hdrs; /* "Name", "value", ... NULL */
};

static int mem_next(void *ctx, struct sc_exchange *x, struct sc_error *err) {
  (void)err;
  struct memsrc *m = ctx;
  sc_exchange_release(x);
  if (m->i >= m->count) return 0;
  char body[64];
  snprintf(body, sizeof body, "{\"txn_id\":\"t%06zu\"}", m->i);
  x->id = m->i + 1;
  x->req.method = strdup(m->method ? m->method : "POST");
  x->req.target = strdup(m->targets[m->i % m->n_targets]);
  x->req.body = (uint8_t *)strdup(body);
  x->req.body_len = strlen(body);
  x->resp.status = 200;
  for (const char *const *h = m->hdrs; h && h[0]; h += 2) {
    struct sc_hdr *nh = realloc(x->req.headers, (x->req.n_headers + 1) * sizeof *nh);
    cr_assert_not_null(nh);
    x->req.headers = nh;
    nh[x->req.n_headers].name = strdup(h[0]);
    nh[x->req.n_headers].name_len = strlen(h[0]);
    nh[x->req.n_headers].value = strdup(h[1]);
    nh[x->req.n_headers].value_len = strlen(h[1]);
    x->req.n_headers++;
  }
  m->i++;
  return 1;
}

static sqlite3 *open_db(char *path, size_t n) {
  snprintf(path, n, "/tmp/sc-test-engine-%d-XXXXXX", (int)getpid());
  int fd = mkstemp(path);
  close(fd);
  unlink(path);
  sqlite3 *db = NULL;
  struct sc_error e;
  cr_assert_eq(sc_db_open(&db, path, SC_DB_CREATE, &e), SC_OK, "%s", e.msg);
  return db;
}

static void drop_db(sqlite3 *db, const char *path) {
  sc_db_close(db);
  char p[600];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
}

static long long q1(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
  long long v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static char *qs(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  char *v = NULL;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) v = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

static int run(struct sc_replay_cfg *cfg, struct memsrc *m, sqlite3 *db, struct sc_replay_summary *sum) {
  struct sc_replay_source src = {mem_next, NULL, m, NULL, NULL};
  struct sc_error e;
  sc_error_init(&e);
  return sc_replay_run(cfg, &src, db, sum, &e);
}

Test(engine, framing_and_redirects) {
  int port = start_server();
  char url[64], path[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  static const char *const targets[] = {"/cl", "/chunked", "/eof", "/redirect", "/interim", "/garbage", "/bye"};
  struct memsrc m = {targets, NULL, 7, 70, 0, NULL};
  struct sc_replay_cfg cfg;
  sc_replay_cfg_init(&cfg);
  cfg.url[SC_T_CURRENT] = url;
  cfg.pacing = SC_PACE_MAX;
  cfg.concurrency = 1;
  cfg.timeout_s = 2;
  sqlite3 *db = open_db(path, sizeof path);
  struct sc_replay_summary sum;
  cr_assert_eq(run(&cfg, &m, db, &sum), SC_OK);
  cr_assert_str_eq(sum.status, "completed");
  cr_assert_eq(q1(db, "select count(*) from responses"), 70);
  cr_assert_eq(q1(db, "select count(*) from responses r join exchanges e using(run_id, seq) where e.target='/cl' and status=200 and cast(body as text)='hello'"), 10);
  cr_assert_eq(q1(db, "select count(*) from responses r join exchanges e using(run_id, seq) where e.target='/chunked' and cast(body as text)='abcdefg' and body_len=7"), 10);
  cr_assert_eq(q1(db, "select count(*) from responses r join exchanges e using(run_id, seq) where e.target='/eof' and cast(body as text)='until-close'"), 10);
  cr_assert_eq(q1(db, "select count(*) from responses r join exchanges e using(run_id, seq) where e.target='/redirect' and status=302"), 10);
  cr_assert_eq(q1(db, "select count(*) from responses r join exchanges e using(run_id, seq) where e.target='/interim' and status=201 and cast(body as text)='ok'"), 10);
  cr_assert_eq(q1(db, "select count(*) from responses r join exchanges e using(run_id, seq) where e.target='/garbage' and error='malformed'"), 10);
  cr_assert_eq(q1(db, "select count(*) from responses r join exchanges e using(run_id, seq) where e.target='/bye' and status=200"), 10);
  /* never followed */
  cr_assert_eq(atomic_load(&srv_other_host_hits), 0);
  cr_assert_eq(q1(db, "select count(*) from responses where content_type='text/plain'"), 20);
  char *h = qs(db, "select headers from responses r join exchanges e using(run_id, seq) where e.target='/redirect' limit 1");
  cr_assert(h && strstr(h, "[\"Location\",\"http://10.255.255.1:9/elsewhere\"]"), "%s", h ? h : "(null)");
  free(h);
  drop_db(db, path);
}

/* body_hash is the XXH64 of the whole body whether or not it passed the
 * cap: the hash runs as a stream only once the stored part is full (chunks
 * and interim responses included). */
Test(engine, body_hash_past_the_cap) {
  int port = start_server();
  char url[64], path[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  static const char *const targets[] = {"/cl", "/chunked", "/interim", "/eof"};
  static const struct {
    const char *target, *body;
  } want[] = {{"/cl", "hello"}, {"/chunked", "abcdefg"}, {"/interim", "ok"}, {"/eof", "until-close"}};
  for (int cap = 0; cap <= 12; cap += 3) {
    struct memsrc m = {targets, NULL, 4, 8, 0, NULL};
    struct sc_replay_cfg cfg;
    sc_replay_cfg_init(&cfg);
    cfg.url[SC_T_CURRENT] = url;
    cfg.pacing = SC_PACE_MAX;
    cfg.concurrency = 2;
    cfg.timeout_s = 2;
    cfg.body_cap = (uint64_t)cap;
    sqlite3 *db = open_db(path, sizeof path);
    struct sc_replay_summary sum;
    cr_assert_eq(run(&cfg, &m, db, &sum), SC_OK);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
      size_t n = strlen(want[i].body);
      char sql[512];
      snprintf(sql, sizeof sql,
               "select count(*) from responses r join exchanges e using(run_id, seq) where e.target='%s'"
               " and body_hash='%016llx' and body_len=%zu and body_truncated=%d and length(body)=%zu",
               want[i].target, (unsigned long long)XXH64(want[i].body, n, 0), n, (size_t)cap < n,
               (size_t)cap < n ? (size_t)cap : n);
      cr_assert_eq(q1(db, sql), 2, "cap %d: %s", cap, want[i].target);
    }
    drop_db(db, path);
  }
}

Test(engine, keepalive_reuses_connections) {
  int port = start_server();
  char url[64], path[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  static const char *const targets[] = {"/cl"};
  struct memsrc m = {targets, NULL, 1, 500, 0, NULL};
  struct sc_replay_cfg cfg;
  sc_replay_cfg_init(&cfg);
  cfg.url[SC_T_CURRENT] = url;
  cfg.pacing = SC_PACE_MAX;
  cfg.concurrency = 4;
  int before = atomic_load(&srv_conns);
  sqlite3 *db = open_db(path, sizeof path);
  struct sc_replay_summary sum;
  cr_assert_eq(run(&cfg, &m, db, &sum), SC_OK);
  cr_assert_eq(q1(db, "select count(*) from responses where status=200"), 500);
  cr_assert_leq(atomic_load(&srv_conns) - before, 4);
  cr_assert_leq(sum.t[SC_T_CURRENT].conns, 4);
  drop_db(db, path);
}

Test(engine, head_has_no_body) {
  int port = start_server();
  char url[64], path[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  static const char *const targets[] = {"/head"};
  struct memsrc m = {targets, "HEAD", 1, 5, 0, NULL};
  struct sc_replay_cfg cfg;
  sc_replay_cfg_init(&cfg);
  cfg.url[SC_T_CURRENT] = url;
  cfg.pacing = SC_PACE_MAX;
  cfg.concurrency = 1;
  cfg.timeout_s = 2;
  sqlite3 *db = open_db(path, sizeof path);
  struct sc_replay_summary sum;
  cr_assert_eq(run(&cfg, &m, db, &sum), SC_OK);
  cr_assert_eq(q1(db, "select count(*) from responses where status=200 and body_len=0"), 5);
  drop_db(db, path);
}

static int breach_at;
static int hook_calls;
static int hook(void *ctx, sqlite3 *db, int64_t run_id, int step) {
  (void)ctx;
  hook_calls++;
  /* every exchange of the step is committed when the hook runs */
  char sql[128];
  snprintf(sql, sizeof sql, "select count(*) from exchanges where run_id=%lld and step=%d", (long long)run_id, step);
  cr_assert_eq(q1(db, sql), 100);
  return step == breach_at ? 1 : 0;
}

static void steps_case(int breach, int expect_steps) {
  char url[64], path[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
  static const char *const targets[] = {"/x"};
  struct memsrc m = {targets, NULL, 1, 1000, 0, NULL};
  static const double steps[] = {0.1, 0.5, 1.0};
  struct sc_replay_cfg cfg;
  sc_replay_cfg_init(&cfg);
  cfg.url[SC_T_CURRENT] = url;
  cfg.url[SC_T_CANDIDATE] = url;
  cfg.mode = SC_MODE_CANARY;
  cfg.steps = steps;
  cfg.n_steps = 3;
  cfg.step_exchanges = 100;
  cfg.pacing = SC_PACE_MAX;
  cfg.on_step_end = hook;
  breach_at = breach;
  hook_calls = 0;
  sqlite3 *db = open_db(path, sizeof path);
  struct sc_replay_summary sum;
  int rc = run(&cfg, &m, db, &sum);
  cr_assert_eq(hook_calls, expect_steps);
  cr_assert_eq(q1(db, "select count(*) from steps"), expect_steps);
  cr_assert_eq(q1(db, "select count(*) from exchanges"), 100 * expect_steps);
  cr_assert_eq(q1(db, "select count(*) from responses where error='refused'"), 100 * expect_steps);
  /* realised candidate share per step follows the step's fraction */
  long long c0 = q1(db, "select count(*) from exchanges where step=0 and routed='candidate'");
  cr_assert(c0 >= 2 && c0 <= 25, "step 0 candidate share %lld/100", c0);
  if (expect_steps >= 2) {
    long long c1 = q1(db, "select count(*) from exchanges where step=1 and routed='candidate'");
    cr_assert(c1 >= 30 && c1 <= 70, "step 1 candidate share %lld/100", c1);
  }
  if (breach >= 0) {
    cr_assert_eq(rc, SC_ESTATE);
    cr_assert_str_eq(sum.status, "aborted");
    char *s = qs(db, "select status from runs");
    cr_assert_str_eq(s, "aborted");
    free(s);
    cr_assert_eq(q1(db, "select aborted_step from runs"), breach);
    s = qs(db, "select verdict from steps where step=(select aborted_step from runs)");
    cr_assert_str_eq(s, "fail");
    free(s);
  } else {
    cr_assert_eq(rc, SC_OK);
    cr_assert_eq(q1(db, "select count(*) from steps where verdict='pass' and finished_at is not null"), 3);
    cr_assert_eq(q1(db, "select count(*) from exchanges where step=2 and routed='candidate'"), 100);
  }
  drop_db(db, path);
}

Test(engine, steps_all_pass) { steps_case(-1, 3); }
Test(engine, steps_breach_aborts) { steps_case(1, 2); }

Test(engine, limit_methods_and_refused) {
  char url[64], path[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
  static const char *const targets[] = {"/x"};
  struct memsrc m = {targets, "GET", 1, 50, 0, NULL};
  struct sc_replay_cfg cfg;
  sc_replay_cfg_init(&cfg);
  cfg.url[SC_T_CURRENT] = url;
  cfg.pacing = SC_PACE_RATE;
  cfg.rate = 1000;
  cfg.methods = "POST";
  sqlite3 *db = open_db(path, sizeof path);
  struct sc_replay_summary sum;
  cr_assert_eq(run(&cfg, &m, db, &sum), SC_OK);
  cr_assert_eq(sum.filtered, 50);
  cr_assert_eq(q1(db, "select count(*) from exchanges"), 0);
  m.i = 0;
  m.method = "POST";
  cfg.methods = "get,post";
  cfg.limit = 20;
  cr_assert_eq(run(&cfg, &m, db, &sum), SC_OK);
  cr_assert_eq(q1(db, "select count(*) from exchanges where run_id=2"), 20);
  cr_assert_eq(sum.t[SC_T_CURRENT].errors[SC_RE_REFUSED], 20);
  cr_assert_eq(q1(db, "select count(*) from runs where status='completed'"), 2);
  drop_db(db, path);
}

Test(engine, idle_close_is_retried_once) {
  int port = start_server();
  char url[64], path[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  static const char *const targets[] = {"/silent"};
  struct memsrc m = {targets, NULL, 1, 300, 0, NULL};
  struct sc_replay_cfg cfg;
  sc_replay_cfg_init(&cfg);
  cfg.url[SC_T_CURRENT] = url;
  cfg.pacing = SC_PACE_MAX; /* the next request goes out on the connection the server is dropping */
  cfg.concurrency = 1;
  cfg.timeout_s = 2;
  sqlite3 *db = open_db(path, sizeof path);
  struct sc_replay_summary sum;
  cr_assert_eq(run(&cfg, &m, db, &sum), SC_OK);
  cr_assert_eq(sum.t[SC_T_CURRENT].shed, 0);
  cr_assert_gt(sum.t[SC_T_CURRENT].conns, 10); /* connections really were dropped and replaced */
  cr_assert_eq(q1(db, "select count(*) from responses where status=200"), 300,
               "errors: %lld closed, %lld reset", q1(db, "select count(*) from responses where error='closed'"),
               q1(db, "select count(*) from responses where error='reset'"));
  drop_db(db, path);
}

Test(engine, request_as_sent) {
  int port = start_server();
  char url[64], path[256], host[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  snprintf(host, sizeof host, "Host: 127.0.0.1:%d\r\n", port);
  static const char *const targets[] = {"/cl"};
  static const char *const hdrs[] = {"Host", "prod.example", "Content-Length", "999", "Transfer-Encoding", "chunked",
                                     "X-Keep", "a", "X-Override", "old", "Connection", "close", NULL};
  static const char *const extra[] = {"X-Override: new", "X-Added:  2", NULL};
  struct memsrc m = {targets, NULL, 1, 1, 0, hdrs};
  struct sc_replay_cfg cfg;
  sc_replay_cfg_init(&cfg);
  cfg.url[SC_T_CURRENT] = url;
  cfg.pacing = SC_PACE_MAX;
  cfg.headers = extra;
  sqlite3 *db = open_db(path, sizeof path);
  struct sc_replay_summary sum;
  cr_assert_eq(run(&cfg, &m, db, &sum), SC_OK);
  pthread_mutex_lock(&head_mu);
  char head[4096];
  memcpy(head, last_head, sizeof head);
  pthread_mutex_unlock(&head_mu);
  cr_assert(!strncmp(head, "POST /cl HTTP/1.1\r\n", 19), "%s", head);
  cr_assert(strstr(head, host), "%s", head);
  cr_assert(strstr(head, "X-Keep: a\r\n"), "%s", head);
  cr_assert(strstr(head, "X-Override: new\r\n") && !strstr(head, "old"), "%s", head);
  cr_assert(strstr(head, "X-Added: 2\r\n"), "%s", head);
  cr_assert(strstr(head, "X-Shadow-Request: 1\r\n"), "%s", head);
  cr_assert(strstr(head, "Content-Length: 20\r\n") && !strstr(head, "999"), "%s", head);
  cr_assert(!strstr(head, "chunked") && !strstr(head, "Connection"), "%s", head);
  /* --keep-host, --no-shadow-header */
  m.i = 0;
  cfg.keep_host = 1;
  cfg.shadow_header = NULL;
  cr_assert_eq(run(&cfg, &m, db, &sum), SC_OK);
  pthread_mutex_lock(&head_mu);
  memcpy(head, last_head, sizeof head);
  pthread_mutex_unlock(&head_mu);
  cr_assert(strstr(head, "Host: prod.example\r\n"), "%s", head);
  cr_assert(!strstr(head, "X-Shadow-Request"), "%s", head);
  drop_db(db, path);
}

/*
 * sink.c - the result sink: finished jobs go from the event loop to a writer
 * thread that turns them into rows (exchanges, responses) through the
 * batched store writer, so SQLite never stalls the loop (a commit or a WAL
 * checkpoint would otherwise delay sends and inflate measured latencies).
 * Stage: replay. Reference: store/writer.h, schemas/results.sql.
 *
 * Threads and ownership:
 *   1. The loop thread pushes a finished job (ownership moves to the sink)
 *      and never touches it again until the sink hands it back: the writer
 *      thread writes it and puts it on the `written` list, which the next
 *      push (or the stop) takes and frees on the loop thread. Memory is thus
 *      freed by the thread that allocated it (glibc keeps it in that
 *      thread's cache: freeing on the writer thread made every allocation
 *      of the loop take malloc's slow path, and the two threads contend for
 *      the arena lock).
 *   2. The writer thread is the only user of the database connection between
 *      rp_sink_start() and rp_sink_stop(), except inside rp_sink_barrier():
 *      the barrier returns once the queue is empty and every row committed,
 *      and the writer does not touch the database again until the next push
 *      (the loop thread may then use the connection: steps, hooks).
 *   3. The queue holds at most RP_SINK_QMAX jobs; a hand-over beyond it
 *      waits (back-pressure instead of unbounded memory).
 *   4. After a write error every later job is freed unwritten; the error is
 *      kept for rp_sink_error() (first one wins).
 *   5. Pushes are handed over in batches: rp_sink_push() only links the job
 *      into a list private to the loop thread, which goes to the writer when
 *      it holds RP_SINK_BATCH jobs or at rp_sink_flush() (the engine calls it
 *      every 100 ms, the writer's commit interval), rp_sink_barrier() and
 *      rp_sink_stop(). One lock and at most one wake-up per batch; the
 *      writer is woken only when it sleeps (`idle`). Handing each job over
 *      alone cost the loop thread a futex call per request, and a hand-over
 *      per loop iteration still one wake-up per ~15 requests (the writer
 *      drains faster than the loop fills, so it sleeps between hand-overs):
 *      on a virtual machine where a wake-up is a costly exit, that was 5% of
 *      the loop thread's time and 3% more in the writer's futex wait.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "replay/sink.h"
#include "store/writer.h"
#include "util/clock.h"

#define RP_SINK_QMAX 4096
#define RP_SINK_BATCH 1024

struct rp_sink {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_space, cv_done;
  struct rp_job *head, *tail;
  size_t qlen;
  int idle;                      /* the writer waits on cv_work */
  struct rp_job *local_head, *local_tail; /* pushed, not yet handed over (loop thread only) */
  size_t local_n;
  struct rp_job *written;        /* written (or dropped) jobs for the loop thread to free */
  uint64_t barrier_req, barrier_done;
  int stop;
  int failed;
  struct sc_error err;
  struct sc_store_writer *w;
  uint64_t start_ns;
  int rate_pacing;
  void (*free_job)(struct rp_job *);
  struct sc_buf json;            /* header JSON of the row being written (writer thread) */
};

/* ---- JSON of header lists ----
 *
 * The header columns hold a JSON array of [name, value] pairs exactly as
 * jansson's json_dumps(JSON_COMPACT) printed it when this was built from
 * json_t values: '"' and '\\' escaped, \b \f \n \r \t, other bytes below
 * 0x20 as \u00XX (upper-case hex), everything else (UTF-8 included) as is;
 * a string that is not valid UTF-8 (jansson's rules: no overlong forms, no
 * surrogates, nothing past U+10FFFF) makes the whole document fail, and the
 * column is NULL. Written straight into a reused buffer: no allocation per
 * row (this runs once or twice per answer on the writer thread). */

/* Length of the valid UTF-8 sequence at p (2..4), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t n;
  uint32_t v;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    v = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if ((size_t)(end - p) < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    v = (v << 6) | (p[i] & 0x3F);
  }
  if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000)) return 0;
  return n;
}

/* 1 for the bytes copied as they are (printable ASCII but '"' and '\\'). */
static const unsigned char json_plain[256] = {
#define R4(x) x, x, x, x
#define R16(x) R4(x), R4(x), R4(x), R4(x)
  R16(0), R16(0),                                 /* 0x00-0x1f: escaped */
  1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f: '"' escaped */
  R16(1),                                         /* 0x30-0x3f */
  R16(1),                                         /* 0x40-0x4f */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50-0x5f: '\\' escaped */
  R16(1), R16(1),                                 /* 0x60-0x7f */
  R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), /* 0x80-0xff: UTF-8 check */
#undef R16
#undef R4
};

/* Writes s[0..n) as a JSON string at d, which has room for n * 6 + 2 bytes;
 * returns the end, or NULL when s is not valid UTF-8. */
static char *json_str_at(char *d, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  *d++ = '"';
  while (p < end) {
    unsigned c = *p;
    if (json_plain[c]) { /* the common case: a run of plain bytes */
      do *d++ = (char)*p++;
      while (p < end && json_plain[*p]);
    } else if (c == '"' || c == '\\') {
      *d++ = '\\';
      *d++ = (char)c;
      p++;
    } else if (c < 0x20) {
      *d++ = '\\';
      switch (c) {
      case '\b': *d++ = 'b'; break;
      case '\f': *d++ = 'f'; break;
      case '\n': *d++ = 'n'; break;
      case '\r': *d++ = 'r'; break;
      case '\t': *d++ = 't'; break;
      default:
        memcpy(d, "u00", 3);
        d[3] = hex[c >> 4];
        d[4] = hex[c & 15];
        d += 5;
      }
      p++;
    } else {
      size_t k = utf8_seq(p, end);
      if (!k) return NULL;
      memcpy(d, p, k);
      d += k;
      p += k;
    }
  }
  *d++ = '"';
  return d;
}

int rp_json_str(struct sc_buf *o, const char *s, size_t n) {
  if (n > (SIZE_MAX - 3) / 6) return SC_ETOOBIG;
  int rc = sc_buf_reserve(o, n * 6 + 2); /* worst case: every byte as \u00XX */
  if (rc) return rc;
  char *d = json_str_at(o->p + o->len, s, n);
  if (!d) {
    o->p[o->len] = '\0'; /* buffer unchanged */
    return SC_EINVAL;
  }
  o->len = (size_t)(d - o->p);
  o->p[o->len] = '\0';
  return SC_OK;
}

/* Appends one [name, value] pair (with the separating comma when the array
 * already has one): one reservation for the worst case, written in place. */
static int json_pair(struct sc_buf *o, const char *name, size_t nn, const char *val, size_t vn) {
  if (nn > (SIZE_MAX / 16) || vn > (SIZE_MAX / 16)) return SC_ETOOBIG;
  int rc = sc_buf_reserve(o, (nn + vn) * 6 + 8);
  if (rc) return rc;
  char *d = o->p + o->len;
  if (o->len > 1) *d++ = ',';
  *d++ = '[';
  d = json_str_at(d, name, nn);
  if (d) {
    *d++ = ',';
    d = json_str_at(d, val, vn);
  }
  if (!d) {
    o->p[o->len] = '\0';
    return SC_EINVAL;
  }
  *d++ = ']';
  o->len = (size_t)(d - o->p);
  o->p[o->len] = '\0';
  return SC_OK;
}

/* Response headers "name\0value\0..." -> JSON array in o (NULL when it
 * cannot be built: invalid UTF-8, memory); content type out (points into
 * raw, NUL-terminated there). */
const char *rp_headers_json(struct sc_buf *o, const struct sc_buf *raw, const char **ctype) {
  const char *p = raw->p, *end = raw->p + raw->len;
  int rc = SC_OK;
  *ctype = NULL;
  sc_buf_reset(o);
  rc = sc_buf_putc(o, '[');
  while (p < end) {
    const char *name = p;
    size_t nn = strnlen(p, (size_t)(end - p));
    p += nn + 1;
    if (p > end) break;
    const char *val = p;
    size_t vn = strnlen(p, (size_t)(end - p));
    p += vn + 1;
    if (!rc) rc = json_pair(o, name, nn, val, vn);
    if (nn == 12 && !strncasecmp(name, "content-type", 12)) *ctype = val;
  }
  if (!rc) rc = sc_buf_putc(o, ']');
  return rc ? NULL : o->p;
}

/* Header lines of a request as sent (bytes built by the engine: request
 * line, "Name: value" CRLF lines, empty line) -> JSON array of [name, value]
 * in o (NULL when there is no request line or on failure). The bytes are our
 * own output, so the scan trusts their shape but stays in bounds. */
const char *rp_request_headers_json(struct sc_buf *o, const struct sc_buf *req) {
  const char *p = req->p, *end = req->p + req->len;
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  if (!eol) return NULL;
  p = eol + 1;
  sc_buf_reset(o);
  int rc = sc_buf_putc(o, '[');
  while (p < end && !rc) {
    eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) break;
    const char *le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
    if (le == p) break; /* empty line: end of the head */
    const char *colon = memchr(p, ':', (size_t)(le - p));
    if (colon) {
      const char *v = colon + 1;
      while (v < le && (*v == ' ' || *v == '\t')) v++;
      rc = json_pair(o, p, (size_t)(colon - p), v, (size_t)(le - v));
    }
    p = eol + 1;
  }
  if (!rc) rc = sc_buf_putc(o, ']');
  return rc ? NULL : o->p;
}

/* Writes one job's rows (writer thread). */
static int write_job(struct rp_sink *s, struct rp_job *j, struct sc_error *e) {
  const char *req_hj = j->req_headers_json;
  if (!req_hj) {
    const struct rp_treq *first = j->tr[SC_T_CURRENT] ? j->tr[SC_T_CURRENT] : j->tr[SC_T_CANDIDATE];
    if (first) req_hj = rp_request_headers_json(&s->json, &first->req);
  }
  struct sc_store_exchange sx = {
    .seq = j->seq,
    .exchange_id = j->x.id,
    .step = j->step,
    .request_key = j->key,
    .key_hash = j->hash,
    .routed = j->routed,
    .method = j->x.req.method,
    .target = j->x.req.target,
    .req_headers_json = req_hj,
    .req_body = j->x.req.body,
    .req_body_len = j->x.req.body ? j->x.req.body_len : 0,
    .recorded_status = j->x.resp.status,
    .recorded_latency_us = -1,
    .intended_ns = (int64_t)j->intended_ns,
  };
  if (j->x.t_resp_last && j->x.t_req_last && j->x.t_resp_last >= j->x.t_req_last)
    sx.recorded_latency_us = (double)(j->x.t_resp_last - j->x.t_req_last) / 1e3;
  int rc = sc_store_writer_add_exchange(s->w, &sx, e);
  const struct rp_treq *cur = j->tr[SC_T_CURRENT];
  for (int i = 0; i < SC_T_COUNT && !rc; i++) {
    struct rp_treq *tr = j->tr[i];
    if (!tr) continue;
    const char *ctype = NULL;
    const char *hj = tr->errkind ? NULL : rp_headers_json(&s->json, &tr->hdr_raw, &ctype);
    char hash[17] = "";
    if (!tr->errkind) sc_fmt_hex64(hash, rp_treq_body_hash(tr));
    uint64_t from = s->rate_pacing ? s->start_ns + j->intended_ns : tr->start_ns;
    if (from > tr->done_ns) from = tr->start_ns;
    double skew = NAN;
    if (cur && i != SC_T_CURRENT && cur->sent_ns && tr->sent_ns)
      skew = ((double)tr->sent_ns - (double)cur->sent_ns) / 1e3;
    struct sc_store_response r = {
      .seq = j->seq,
      .target = i == SC_T_CURRENT ? "current" : i == SC_T_CANDIDATE ? "candidate" : "secondary",
      .status = tr->errkind ? 0 : tr->status,
      .error = sc_replay_errkind_name(tr->errkind),
      .latency_us = tr->errkind && tr->errkind != SC_RE_TIMEOUT ? -1 : (double)(tr->done_ns - from) / 1e3,
      .ttfb_us = tr->first_ns && tr->first_ns >= tr->start_ns ? (double)(tr->first_ns - tr->start_ns) / 1e3 : -1,
      .sent_ns = (int64_t)((tr->sent_ns ? tr->sent_ns : tr->start_ns) - s->start_ns),
      .skew_us = skew,
      .headers_json = hj,
      .body = tr->errkind ? NULL : tr->body.p,
      .body_stored_len = tr->errkind ? 0 : tr->body.len,
      .body_len = (int64_t)tr->body_len,
      .body_hash = hash[0] ? hash : NULL,
      .body_truncated = tr->body_truncated,
      .content_type = ctype,
    };
    rc = sc_store_writer_add_response(s->w, &r, e);
  }
  return rc;
}

static void fail(struct rp_sink *s, const struct sc_error *e) {
  pthread_mutex_lock(&s->mu);
  if (!s->failed) s->err = *e;
  s->failed = 1;
  pthread_mutex_unlock(&s->mu);
}

static void *writer_main(void *arg) {
  struct rp_sink *s = arg;
  uint64_t last_commit = sc_clock_mono_ns();
  int dirty = 0;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->stop && s->barrier_done == s->barrier_req) {
      s->idle = 1;
      if (!dirty) {
        pthread_cond_wait(&s->cv_work, &s->mu);
        s->idle = 0;
        continue;
      }
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 100 * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      int trc = pthread_cond_timedwait(&s->cv_work, &s->mu, &ts);
      s->idle = 0;
      if (trc == ETIMEDOUT) break;
    }
    struct rp_job *list = s->head;
    s->head = s->tail = NULL;
    s->qlen = 0;
    int failed = s->failed;
    uint64_t breq = s->barrier_req;
    int stop = s->stop;
    pthread_cond_broadcast(&s->cv_space);
    pthread_mutex_unlock(&s->mu);

    struct rp_job *last = NULL;
    for (struct rp_job *j = list; j; j = j->sink_next) {
      last = j;
      if (!failed) {
        struct sc_error e;
        sc_error_init(&e);
        if (write_job(s, j, &e)) {
          fail(s, &e);
          failed = 1;
        } else {
          dirty = 1;
        }
      }
    }
    if (failed) dirty = 0; /* the writer rolled the open batch back */
    uint64_t now = sc_clock_mono_ns();
    if (dirty && !failed && (breq != s->barrier_done || stop || now - last_commit >= 100000000ull)) {
      struct sc_error e;
      sc_error_init(&e);
      if (sc_store_writer_flush(s->w, &e)) fail(s, &e);
      dirty = 0;
      last_commit = now;
    }
    pthread_mutex_lock(&s->mu);
    if (last) { /* hand the jobs back (rule 1) */
      last->sink_next = s->written;
      s->written = list;
    }
    if (breq != s->barrier_done && !s->head) {
      s->barrier_done = breq;
      pthread_cond_broadcast(&s->cv_done);
    }
    if (s->stop && !s->head && !dirty) break;
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

int rp_sink_start(struct rp_sink **out, struct sc_store_writer *w, uint64_t start_ns, int rate_pacing,
                  void (*free_job)(struct rp_job *), struct sc_error *err) {
  struct rp_sink *s = calloc(1, sizeof *s);
  if (!s) return sc_error_set(err, SC_ENOMEM, "out of memory");
  s->w = w;
  s->start_ns = start_ns;
  s->rate_pacing = rate_pacing;
  s->free_job = free_job;
  sc_buf_init(&s->json, SIZE_MAX / 2);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv_work, NULL);
  pthread_cond_init(&s->cv_space, NULL);
  pthread_cond_init(&s->cv_done, NULL);
  /* the writer thread never takes a signal: SIGINT/SIGTERM belong to the loop */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int prc = pthread_create(&s->th, NULL, writer_main, s);
  if (prc == 0) pthread_setname_np(s->th, "shadowctl-db"); /* top -H, perf: the writer thread by name */
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (prc != 0) {
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv_work);
    pthread_cond_destroy(&s->cv_space);
    pthread_cond_destroy(&s->cv_done);
    free(s);
    return sc_error_set(err, SC_EINTERNAL, "cannot start the result writer thread");
  }
  *out = s;
  return SC_OK;
}

static void free_list(struct rp_sink *s, struct rp_job *j) {
  while (j) {
    struct rp_job *next = j->sink_next;
    s->free_job(j);
    j = next;
  }
}

void rp_sink_flush(struct rp_sink *s) {
  if (!s || !s->local_head) return;
  pthread_mutex_lock(&s->mu);
  /* a batch larger than the room left waits for an empty queue, so a batch
   * never waits forever (RP_SINK_BATCH < RP_SINK_QMAX) */
  while (s->qlen && s->qlen + s->local_n > RP_SINK_QMAX) pthread_cond_wait(&s->cv_space, &s->mu);
  if (s->tail) s->tail->sink_next = s->local_head;
  else s->head = s->local_head;
  s->tail = s->local_tail;
  s->qlen += s->local_n;
  if (s->idle) pthread_cond_signal(&s->cv_work);
  struct rp_job *written = s->written;
  s->written = NULL;
  pthread_mutex_unlock(&s->mu);
  s->local_head = s->local_tail = NULL;
  s->local_n = 0;
  free_list(s, written);
}

void rp_sink_push(struct rp_sink *s, struct rp_job *j) {
  j->sink_next = NULL;
  if (s->local_tail) s->local_tail->sink_next = j;
  else s->local_head = j;
  s->local_tail = j;
  if (++s->local_n >= RP_SINK_BATCH) rp_sink_flush(s);
}

int rp_sink_barrier(struct rp_sink *s, struct sc_error *err) {
  rp_sink_flush(s);
  pthread_mutex_lock(&s->mu);
  uint64_t want = ++s->barrier_req;
  pthread_cond_signal(&s->cv_work);
  while (s->barrier_done < want) pthread_cond_wait(&s->cv_done, &s->mu);
  int rc = SC_OK;
  if (s->failed) {
    if (err) *err = s->err;
    rc = s->err.code ? s->err.code : SC_EDB;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int rp_sink_error(struct rp_sink *s, struct sc_error *err) {
  pthread_mutex_lock(&s->mu);
  int rc = SC_OK;
  if (s->failed) {
    if (err) *err = s->err;
    rc = s->err.code ? s->err.code : SC_EDB;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

int rp_sink_stop(struct rp_sink *s, struct sc_error *err) {
  if (!s) return SC_OK;
  rp_sink_flush(s);
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_signal(&s->cv_work);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->th, NULL);
  free_list(s, s->written);
  s->written = NULL;
  int rc = SC_OK;
  if (s->failed) {
    if (err) *err = s->err;
    rc = s->err.code ? s->err.code : SC_EDB;
  }
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv_work);
  pthread_cond_destroy(&s->cv_space);
  pthread_cond_destroy(&s->cv_done);
  sc_buf_release(&s->json);
  free(s);
  return rc;
}

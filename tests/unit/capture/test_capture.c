/*
 * test_capture.c - the capture pipeline end to end on synthetic packets:
 * frames built in memory, written with pcap_dump, read back through
 * sc_capture (pcap_src -> decode -> reasm -> http1 -> pair).
 * Covers src/capture/capture.c and, through it, decode/reasm/http1/pair.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "unit/capture/pcapgen.h"

static struct pg G;
static struct pg_result R;

static void teardown(void) { pg_result_release(&R); }

TestSuite(capture, .fini = teardown);

#define REQ_GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\n\r\n"
#define RESP_OK(body) "HTTP/1.1 200 OK\r\nContent-Length: " #body "\r\n\r\n"

static void expect_x(int i, const char *method, const char *target, int status) {
  cr_assert_lt(i, R.n, "exchange %d missing (have %d)", i, R.n);
  cr_expect_str_eq(R.x[i].req.method, method);
  cr_expect_str_eq(R.x[i].req.target, target);
  cr_expect_eq(R.x[i].resp.status, status, "exchange %d status %d != %d", i, R.x[i].resp.status, status);
}

static void body_eq(const struct sc_http_msg *m, const char *s) {
  cr_expect_eq(m->body_len, strlen(s), "body length %zu != %zu", m->body_len, strlen(s));
  if (m->body_len == strlen(s)) cr_expect(memcmp(m->body, s, m->body_len) == 0, "body differs");
}

/* Link types and IP versions: the same keep-alive conversation decodes the
 * same way. */
static const struct {
  int dlt, family, vlan;
} links[] = {
  {1, 4, 0}, {1, 6, 0}, {1, 4, 1}, {1, 4, 2}, {113, 4, 0}, {113, 6, 0}, {276, 4, 0},
  {12, 4, 0}, {12, 6, 0}, {0, 4, 0}, {0, 6, 0},
};

Test(capture, link_types_keepalive) {
  for (size_t k = 0; k < sizeof links / sizeof links[0]; k++) {
    pg_init(&G, links[k].dlt, links[k].family);
    G.vlan_tags = links[k].vlan;
    pg_handshake(&G);
    pg_sends(&G, 1, REQ_GET("/a"));
    pg_sends(&G, 0, RESP_OK(5) "hello");
    pg_sends(&G, 1, REQ_GET("/b"));
    pg_sends(&G, 0, RESP_OK(2) "hi");
    pg_fin(&G, 1);
    pg_fin(&G, 0);
    pg_run(&G, NULL, &R);
    cr_assert_eq(R.rc, 0, "dlt %d: %s", links[k].dlt, R.err.msg);
    cr_assert_eq(R.n, 2, "dlt %d family %d vlan %d: %d exchanges", links[k].dlt, links[k].family,
                 links[k].vlan, R.n);
    expect_x(0, "GET", "/a", 200);
    expect_x(1, "GET", "/b", 200);
    body_eq(&R.x[0].resp, "hello");
    cr_expect_eq(R.x[0].conn.family, links[k].family);
    cr_expect_eq(R.x[0].conn.server_port, 8080);
    cr_expect_eq(R.x[0].conn.client_port, 40000);
    cr_expect_eq(R.x[0].flags, 0u, "flags %x", R.x[0].flags);
    cr_expect_eq(R.st.tf.connections, 1);
    pg_result_release(&R);
  }
}

Test(capture, out_of_order) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  const char *req = "POST /ooo HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789";
  /* three pieces sent as 1, 3, 2 */
  uint32_t s = G.cseq;
  pg_seg_at(&G, 1, s, 0x18, req, 10);
  pg_seg_at(&G, 1, s + 30, 0x18, req + 30, strlen(req) - 30);
  pg_seg_at(&G, 1, s + 10, 0x18, req + 10, 20);
  G.cseq += (uint32_t)strlen(req);
  pg_sends(&G, 0, RESP_OK(0));
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1);
  expect_x(0, "POST", "/ooo", 200);
  body_eq(&R.x[0].req, "0123456789");
  cr_expect_eq(R.st.ooo_segments, 1);
}

Test(capture, retransmission) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  uint32_t s = G.cseq;
  const char *req = "POST /r HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd";
  pg_seg_at(&G, 1, s, 0x18, req, 20);
  pg_seg_at(&G, 1, s, 0x18, req, 20); /* exact retransmission */
  pg_seg_at(&G, 1, s + 20, 0x18, req + 20, strlen(req) - 20);
  pg_seg_at(&G, 1, s + 20, 0x18, req + 20, strlen(req) - 20);
  G.cseq += (uint32_t)strlen(req);
  pg_sends(&G, 0, RESP_OK(0));
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1);
  body_eq(&R.x[0].req, "abcd");
  cr_expect_eq(R.st.retransmits, 2);
}

/* First-seen wins: bytes queued first are kept when a later segment covers
 * the same sequence numbers with other bytes. */
Test(capture, overlap_first_seen_wins) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  uint32_t s = G.cseq;
  const char *req = "POST /o HTTP/1.1\r\nContent-Length: 8\r\n\r\nAAAABBBB";
  size_t hl = strlen(req) - 8;
  pg_seg_at(&G, 1, s + (uint32_t)hl + 4, 0x18, "XXXX", 4); /* queued first: bytes 4..7 of the body */
  pg_seg_at(&G, 1, s, 0x18, req, strlen(req));              /* covers everything */
  G.cseq += (uint32_t)strlen(req);
  pg_sends(&G, 0, RESP_OK(0));
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1);
  body_eq(&R.x[0].req, "AAAAXXXX");
  cr_expect_geq(R.st.overlaps, 1);
}

Test(capture, midstream_start) {
  pg_init(&G, 1, 4);
  /* no handshake: the capture starts inside a response body */
  pg_sends(&G, 0, "tail of an earlier body\r\nmore bytes");
  pg_sends(&G, 1, REQ_GET("/after"));
  pg_sends(&G, 0, RESP_OK(3) "abc");
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1, "%d", R.n);
  expect_x(0, "GET", "/after", 200);
  cr_expect(R.x[0].flags & SC_XF_MIDSTREAM);
  cr_expect_eq(R.st.midstream, 1);
  cr_expect_eq(R.x[0].conn.client_port, 40000, "client identified from the request line");
}

Test(capture, pipelining_fifo) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/1") REQ_GET("/2") "HEAD /3 HTTP/1.1\r\nHost: x\r\n\r\n" REQ_GET("/4"));
  pg_sends(&G, 0, RESP_OK(1) "a" "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno"
                  "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n" /* HEAD: no body */
                  "HTTP/1.1 204 No Content\r\n\r\n");
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 4);
  expect_x(0, "GET", "/1", 200);
  expect_x(1, "GET", "/2", 404);
  expect_x(2, "HEAD", "/3", 200);
  expect_x(3, "GET", "/4", 204);
  cr_expect_eq(R.x[2].resp.body_len, 0);
}

Test(capture, chunked_both_ways) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  pg_sends(&G, 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\n\r\n");
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1);
  body_eq(&R.x[0].req, "abcde");
  body_eq(&R.x[0].resp, "hello!");
  cr_expect(R.x[0].flags & SC_XF_REQ_CHUNKED);
  cr_expect(R.x[0].flags & SC_XF_RESP_CHUNKED);
}

Test(capture, expect_100_continue) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  pg_sends(&G, 0, "HTTP/1.1 100 Continue\r\n\r\n");
  pg_sends(&G, 1, "12345");
  pg_sends(&G, 0, RESP_OK(2) "ok");
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1);
  expect_x(0, "POST", "/up", 200);
  body_eq(&R.x[0].req, "12345");
  cr_expect(R.x[0].flags & SC_XF_INTERIM_1XX);
  cr_expect_eq(R.st.interim, 1);
}

Test(capture, no_body_statuses) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/204"));
  pg_sends(&G, 0, "HTTP/1.1 204 No Content\r\n\r\n");
  pg_sends(&G, 1, REQ_GET("/304"));
  pg_sends(&G, 0, "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n");
  pg_sends(&G, 1, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
  pg_sends(&G, 0, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
  pg_sends(&G, 1, REQ_GET("/last"));
  pg_sends(&G, 0, RESP_OK(4) "done");
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 4, "%d", R.n);
  expect_x(0, "GET", "/204", 204);
  expect_x(1, "GET", "/304", 304);
  expect_x(2, "HEAD", "/h", 200);
  expect_x(3, "GET", "/last", 200);
  body_eq(&R.x[3].resp, "done");
}

Test(capture, close_delimited) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, "GET /cd HTTP/1.0\r\n\r\n");
  pg_sends(&G, 0, "HTTP/1.0 200 OK\r\n\r\nuntil the end");
  pg_fin(&G, 0);
  pg_fin(&G, 1);
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1);
  body_eq(&R.x[0].resp, "until the end");
  cr_expect(R.x[0].flags & SC_XF_CLOSE_DELIMITED);
}

Test(capture, response_missing_at_end) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/lost"));
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1);
  cr_expect(R.x[0].flags & SC_XF_RESPONSE_MISSING);
  cr_expect_eq(R.st.tf.unpaired_requests, 1);
}

Test(capture, truncated_snaplen) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/big"));
  char body[1300];
  memset(body, 'b', sizeof body);
  pg_sends(&G, 0, "HTTP/1.1 200 OK\r\nContent-Length: 2600\r\n\r\n");
  G.snap = 14 + 20 + 20 + 100; /* body segments cut to 100 bytes */
  pg_send(&G, 0, body, sizeof body);
  pg_send(&G, 0, body, sizeof body);
  G.snap = 0;
  pg_sends(&G, 1, REQ_GET("/next"));
  pg_sends(&G, 0, RESP_OK(1) "n");
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 2, "%d", R.n);
  expect_x(0, "GET", "/big", 200);
  cr_expect_eq(R.x[0].resp.body_wire_len, 2600);
  cr_expect(R.x[0].flags & SC_XF_STREAM_GAP);
  cr_expect_eq(R.x[0].resp.body[0], 'b');
  expect_x(1, "GET", "/next", 200);
}

Test(capture, header_line_64k) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  size_t n = 65536;
  char *req = malloc(n + 256);
  int h = sprintf(req, "GET /long HTTP/1.1\r\nX-Long: ");
  memset(req + h, 'v', n);
  strcpy(req + h + n, "\r\nHost: x\r\n\r\n");
  pg_send(&G, 1, req, strlen(req));
  free(req);
  pg_sends(&G, 0, RESP_OK(0));
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1);
  const struct sc_hdr *x = sc_http_msg_header(&R.x[0].req, "X-Long");
  cr_assert_not_null(x);
  cr_expect_eq(x->value_len, n);
  cr_expect_not_null(sc_http_msg_header(&R.x[0].req, "Host"));
}

Test(capture, garbage_on_the_port) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_send(&G, 1, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11); /* TLS ClientHello */
  pg_send(&G, 0, "\x16\x03\x03\x00\x5a", 5);
  pg_fin(&G, 1);
  pg_fin(&G, 0);
  /* a second, HTTP connection on the same port still works */
  G.cport = 40001;
  G.cseq = 9000;
  G.sseq = 700000;
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/ok"));
  pg_sends(&G, 0, RESP_OK(0));
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1);
  expect_x(0, "GET", "/ok", 200);
  cr_expect_eq(R.st.tf.non_http_flows, 1);
  cr_expect_eq(R.st.tf.connections, 2);
}

Test(capture, max_body_truncates) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/t"));
  pg_sends(&G, 0, RESP_OK(10) "0123456789");
  struct sc_capture_cfg cfg = {.sample_pct = 100, .max_body = 4};
  pg_run(&G, &cfg, &R);
  cr_assert_eq(R.n, 1);
  body_eq(&R.x[0].resp, "0123");
  cr_expect_eq(R.x[0].resp.body_wire_len, 10);
  cr_expect(R.x[0].flags & SC_XF_RESP_TRUNCATED);
  cr_expect_eq(R.st.tf.truncated_bodies, 1);
}

Test(capture, idle_eviction) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/idle"));
  G.ts += 300ull * 1000000000ull; /* 5 minutes later, another connection */
  G.cport = 40002;
  G.cseq = 9000;
  G.sseq = 700000;
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/fresh"));
  pg_sends(&G, 0, RESP_OK(0));
  struct sc_capture_cfg cfg = {.sample_pct = 100, .idle_timeout_s = 60};
  pg_run(&G, &cfg, &R);
  cr_assert_eq(R.n, 2);
  expect_x(0, "GET", "/idle", 0); /* evicted first, response missing */
  cr_expect(R.x[0].flags & SC_XF_RESPONSE_MISSING);
  cr_expect_eq(R.st.tf.idle_evictions, 1);
}

Test(capture, sampling_is_deterministic) {
  int kept[2] = {0, 0};
  for (int run = 0; run < 2; run++) {
    pg_init(&G, 1, 4);
    for (int c = 0; c < 40; c++) {
      G.cport = (uint16_t)(30000 + c);
      pg_handshake(&G);
      pg_sends(&G, 1, REQ_GET("/s"));
      pg_sends(&G, 0, RESP_OK(0));
    }
    struct sc_capture_cfg cfg = {.sample_pct = 50};
    pg_run(&G, &cfg, &R);
    kept[run] = R.n;
    cr_expect_eq((uint64_t)R.n + R.st.sampled_out, 40);
    pg_result_release(&R);
  }
  cr_expect_eq(kept[0], kept[1]);
  cr_expect(kept[0] > 5 && kept[0] < 35, "kept %d of 40 at 50%%", kept[0]);
}

Test(capture, truncated_pcap_keeps_exchanges) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/before"));
  pg_sends(&G, 0, RESP_OK(0));
  pg_sends(&G, 1, REQ_GET("/cut"));
  const char *p = pg_write(&G);
  pg_free(&G);
  FILE *f = fopen(p, "r+");
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  cr_assert_eq(ftruncate(fileno(f), sz - 10), 0);
  fclose(f);
  pg_run_file(p, NULL, &R);
  unlink(p);
  cr_expect_eq(R.rc, SC_ETRUNC);
  cr_expect(strstr(R.err.msg, "truncated at packet 6") != NULL, "%s", R.err.msg);
  cr_assert_eq(R.n, 1);
  expect_x(0, "GET", "/before", 200);
}

Test(capture, rst_and_port_reuse) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/reset"));
  pg_seg_at(&G, 0, G.sseq, 0x04, NULL, 0); /* server resets */
  /* the same 4-tuple is reused by a new connection */
  G.cseq = 77000;
  G.sseq = 880000;
  pg_handshake(&G);
  pg_sends(&G, 1, REQ_GET("/again"));
  pg_sends(&G, 0, RESP_OK(0));
  pg_seg_at(&G, 1, G.cseq + 5, 0x18, "late", 4); /* beyond FIN-less end: queued then gap at close */
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 2, "%d", R.n);
  expect_x(0, "GET", "/reset", 0);
  cr_expect(R.x[0].flags & SC_XF_RESPONSE_MISSING);
  expect_x(1, "GET", "/again", 200);
  cr_expect_neq(R.x[0].conn.conn_id, R.x[1].conn.conn_id);
  cr_expect_eq(R.st.tf.connections, 2);
  cr_expect_eq(R.st.rst, 1);
}

Test(capture, late_retransmission_after_close_is_ignored) {
  pg_init(&G, 1, 4);
  pg_handshake(&G);
  uint32_t s = G.cseq;
  pg_sends(&G, 1, REQ_GET("/once"));
  pg_sends(&G, 0, RESP_OK(0));
  pg_fin(&G, 1);
  pg_fin(&G, 0);
  pg_seg_at(&G, 1, s, 0x18, REQ_GET("/once"), strlen(REQ_GET("/once"))); /* after close */
  pg_run(&G, NULL, &R);
  cr_assert_eq(R.n, 1, "a retransmission after the close must not open a new connection");
  cr_expect_eq(R.st.tf.connections, 1);
}

-- analyze_gen.sql - fills results.db with one synthetic shadow run for the
-- analysis benchmark and tests (scripts/bench/analyze.sh, tests/e2e/4NNN).
-- Parameters are set by the caller in a temp table p(n, fpr_cand, lat_cand, secondary):
--   n          exchanges
--   fpr_cand   candidate false-positive rate (current: 2%), e.g. 0.12
--   lat_cand   candidate latency factor, e.g. 1.0 or 1.4
--   secondary  1 to add a secondary target (same model as current)
-- Ground truth: every 20th request is fraud (5%); current flags 80% of fraud
-- and 2% of legit requests; the candidate flags the same fraud and fpr_cand of
-- legit ones (a superset of current's false positives when fpr_cand >= 0.02).
-- Every answer carries a random request_id (noise); the candidate's score
-- differs from current's on every request (a real change).
-- The uniform draws are deterministic functions of seq.
INSERT INTO runs (id, traffic_file, mode, current_url, candidate_url, secondary_url, pacing, started_at,
                  finished_at, status, requests, key_spec)
  SELECT 1, 'synthetic.shdw', 'shadow', 'http://127.0.0.1:1', 'http://127.0.0.1:2',
         CASE WHEN secondary THEN 'http://127.0.0.1:3' END, 'max',
         '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 'completed', n, '$.txn_id' FROM p;

CREATE TEMP TABLE g AS
  WITH RECURSIVE s(seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s WHERE seq < (SELECT n FROM p))
  SELECT seq,
         (seq % 20 = 0) AS fraud,
         ((seq * 48271) % 2147483647 % 100000) / 100000.0 AS u1,
         ((seq * 69621 + 7) % 2147483647 % 100000) / 100000.0 AS u2,
         ((seq * 16807 + 11) % 2147483647 % 100000) / 100000.0 AS u3,
         CASE (seq % 4) WHEN 0 THEN 'US' WHEN 1 THEN 'DE' WHEN 2 THEN 'FR' ELSE 'BR' END AS country
  FROM s;

INSERT INTO exchanges (run_id, seq, exchange_id, step, request_key, routed, method, target, req_headers, req_body,
                       recorded_status, recorded_latency_us)
  SELECT 1, seq, seq, 0, printf('t%07d', seq), 'both', 'POST', '/score',
         '[["Content-Type","application/json"],["X-Region","' || country || '"]]',
         CAST('{"txn_id":"' || printf('t%07d', seq) || '","country":"' || country || '"}' AS BLOB), 200, 10000
  FROM g;

-- current: positive when (fraud and u1 < 0.8) or (legit and u1 < 0.02)
CREATE TEMP TABLE d AS
  SELECT g.*,
         CASE WHEN fraud THEN u1 < 0.8 ELSE u1 < 0.02 END AS pos_cur,
         CASE WHEN fraud THEN u1 < 0.8 ELSE u1 < (SELECT fpr_cand FROM p) END AS pos_cand
  FROM g;

INSERT INTO responses (run_id, seq, target, status, latency_us, headers, body, body_len, content_type)
  SELECT 1, seq, 'current', 200, 8000 + 4000 * u2 + CASE WHEN u3 > 0.99 THEN 30000 * u3 ELSE 0 END,
         '[["Content-Type","application/json"]]',
         CAST(json_object('txn_id', printf('t%07d', seq), 'score', CASE WHEN pos_cur THEN 0.6 + 0.3 * u2 ELSE 0.4 * u2 END,
                          'decision', CASE WHEN pos_cur THEN 'fraud' ELSE 'legit' END, 'model_version', 'v1',
                          'request_id', hex(randomblob(8))) AS BLOB), 100, 'application/json'
  FROM d;

INSERT INTO responses (run_id, seq, target, status, latency_us, headers, body, body_len, content_type)
  SELECT 1, seq, 'candidate', 200,
         (8000 + 4000 * u2 + CASE WHEN u3 > 0.99 THEN 30000 * u3 ELSE 0 END) * (SELECT lat_cand FROM p),
         '[["Content-Type","application/json"]]',
         CAST(json_object('txn_id', printf('t%07d', seq), 'score', CASE WHEN pos_cand THEN 0.61 + 0.3 * u2 ELSE 0.41 * u2 END,
                          'decision', CASE WHEN pos_cand THEN 'fraud' ELSE 'legit' END, 'model_version', 'v1',
                          'request_id', hex(randomblob(8))) AS BLOB), 100, 'application/json'
  FROM d;

INSERT INTO responses (run_id, seq, target, status, latency_us, headers, body, body_len, content_type)
  SELECT 1, seq, 'secondary', 200, 8000 + 4000 * u3,
         '[["Content-Type","application/json"]]',
         CAST(json_object('txn_id', printf('t%07d', seq), 'score', CASE WHEN pos_cur THEN 0.6 + 0.3 * u2 ELSE 0.4 * u2 END,
                          'decision', CASE WHEN pos_cur THEN 'fraud' ELSE 'legit' END, 'model_version', 'v1',
                          'request_id', hex(randomblob(8))) AS BLOB), 100, 'application/json'
  FROM d WHERE (SELECT secondary FROM p);

INSERT INTO run_targets (run_id, target, url, sent, shed) VALUES
  (1, 'current', 'http://127.0.0.1:1', (SELECT n FROM p), 0),
  (1, 'candidate', 'http://127.0.0.1:2', (SELECT n FROM p), 0);

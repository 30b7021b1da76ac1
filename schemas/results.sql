-- results.sql - the results database (results.db), core tables.
-- Single source of truth: embedded into shadowctl at build time and applied
-- by src/store/db.c on open. Every table hangs off a run id.
-- Schema version: PRAGMA user_version (see store/db.h SC_DB_SCHEMA_VERSION).
-- Times: ISO-8601 UTC text for humans (started_at ...) and integer ns since
-- the epoch where arithmetic is needed (*_ns). Latencies in microseconds (REAL).
-- Analysis tables (diffs, decisions, metrics, labels) live in schemas/analysis.sql.

CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT
);

-- One replay of one traffic file under one policy.
CREATE TABLE IF NOT EXISTS runs (
  id             INTEGER PRIMARY KEY,
  traffic_file   TEXT NOT NULL,
  mode           TEXT NOT NULL CHECK (mode IN ('single', 'shadow', 'canary')),
  fraction       REAL NOT NULL DEFAULT 1.0,  -- shadow: share mirrored to candidate; canary: share sent to candidate (0..1)
  steps          TEXT,                       -- progressive canary: JSON array of fractions, e.g. [0.01,0.05,0.25,0.5]
  seed           INTEGER NOT NULL DEFAULT 0,
  key_spec       TEXT,                       -- request key rule ("method+target+body", "$.txn_id", "header:X-Id")
  current_url    TEXT NOT NULL,
  candidate_url  TEXT,
  secondary_url  TEXT,
  pacing         TEXT NOT NULL,              -- "recorded:1x", "rate:2000/s", "max"
  concurrency    INTEGER,
  config_json    TEXT,                       -- effective configuration (JSON)
  argv           TEXT,                       -- command line that started the run
  host           TEXT,
  pid            INTEGER,                    -- replaying process; a 'running' run whose pid is gone on this host was killed (shown as interrupted)
  started_at     TEXT NOT NULL,
  finished_at    TEXT,
  status         TEXT NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'completed', 'interrupted', 'aborted')),
  status_reason  TEXT,                       -- why interrupted/aborted (signal, breached criterion, error)
  aborted_step   INTEGER,                    -- progressive: step index that breached
  -- replay totals
  requests       INTEGER NOT NULL DEFAULT 0, -- exchanges replayed (rows in exchanges)
  -- carried from the traffic file (capture loss)
  capture_exchanges   INTEGER,
  capture_kernel_drops INTEGER,
  capture_stream_gaps INTEGER,
  capture_truncated   INTEGER,
  capture_unpaired    INTEGER,
  capture_first_ns    INTEGER,
  capture_last_ns     INTEGER,
  traffic_error       TEXT                   -- reader error if the file was corrupt/truncated
);

-- Per-target, per-run counters that are not rows (shed requests etc.).
CREATE TABLE IF NOT EXISTS run_targets (
  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  target    TEXT NOT NULL CHECK (target IN ('current', 'candidate', 'secondary')),
  url       TEXT NOT NULL,
  sent      INTEGER NOT NULL DEFAULT 0,
  shed      INTEGER NOT NULL DEFAULT 0,      -- dropped because the target's in-flight budget was full
  errors    INTEGER NOT NULL DEFAULT 0,
  connections_opened INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, target)
);

-- Progressive canary steps.
CREATE TABLE IF NOT EXISTS steps (
  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step       INTEGER NOT NULL,              -- 0-based index
  fraction   REAL NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  exchanges  INTEGER NOT NULL DEFAULT 0,
  verdict    TEXT,                          -- 'pass', 'fail', 'inconclusive' or NULL while running
  breached   TEXT,                          -- names of breached criteria, comma-separated
  PRIMARY KEY (run_id, step)
);

-- The CHECKs on the two row-per-exchange tables below spell their lists as
-- OR chains: SQLite evaluates `x IN (a, b, c)` (three or more constants)
-- through a temporary table it fills and clears on every INSERT statement,
-- which was a quarter of the replay writer's own CPU time.

-- One replayed request (one recorded exchange sent under the run's policy).
CREATE TABLE IF NOT EXISTS exchanges (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq           INTEGER NOT NULL,           -- replay order within the run, from 1
  exchange_id   INTEGER NOT NULL,           -- id in the traffic file
  step          INTEGER NOT NULL DEFAULT 0,
  request_key   TEXT,                       -- value of the key rule (joins labels)
  key_hash      INTEGER,                    -- xxh64(key, seed) as signed 64-bit
  routed        TEXT NOT NULL CHECK (routed = 'current' OR routed = 'candidate' OR routed = 'both'),
                                            -- canary: the one side that answered; shadow: 'both' or 'current' (not mirrored)
  method        TEXT NOT NULL,
  target        TEXT NOT NULL,              -- request-target as recorded
  req_headers   TEXT,                       -- JSON array of [name, value] as sent
  req_body      BLOB,
  recorded_status  INTEGER,                 -- status in the capture
  recorded_latency_us REAL,
  intended_ns   INTEGER,                    -- scheduled send time (monotonic ns from run start)
  PRIMARY KEY (run_id, seq)
);

-- One answer of one target to one replayed request.
CREATE TABLE IF NOT EXISTS responses (
  run_id        INTEGER NOT NULL,
  seq           INTEGER NOT NULL,
  target        TEXT NOT NULL CHECK (target = 'current' OR target = 'candidate' OR target = 'secondary'),
  status        INTEGER,                    -- HTTP status, NULL on error
  error         TEXT CHECK (error IS NULL OR error = 'refused' OR error = 'reset' OR error = 'timeout'
                  OR error = 'connect' OR error = 'malformed' OR error = 'too_large' OR error = 'closed'
                  OR error = 'other'),
                                            -- refused: connection refused; reset: ECONNRESET/EPIPE;
                                            -- timeout: --timeout passed (connect, write or read);
                                            -- connect: other connect failure; malformed: invalid HTTP;
                                            -- too_large: response over the read limit (64 MiB);
                                            -- closed: connection closed before the response was complete
                                            -- (no redirect is ever followed: a 3xx is recorded as is)
  latency_us    REAL,                       -- intended send time (or send start) -> last byte
  ttfb_us       REAL,                       -- send start -> first response byte
  sent_ns       INTEGER,                    -- actual send start (monotonic ns from run start)
  skew_us       REAL,                       -- shadow: this send minus current's send
  headers       TEXT,                       -- JSON array of [name, value]
  body          BLOB,                       -- up to the body cap
  body_len      INTEGER,                    -- full length received
  body_hash     TEXT,                       -- xxh64 hex of the full body
  body_truncated INTEGER NOT NULL DEFAULT 0,
  content_type  TEXT,
  PRIMARY KEY (run_id, seq, target),
  FOREIGN KEY (run_id, seq) REFERENCES exchanges(run_id, seq) ON DELETE CASCADE
);

-- No secondary index on exchanges or responses: every query reads a run
-- through the primary keys, and label import matches keys through a
-- temporary set (src/analyze/labels.c). Each index cost a b-tree insert per
-- row on replay's write path (request_key's at a random page). Databases
-- made before this change lose the two indexes they had:
DROP INDEX IF EXISTS responses_by_target;
DROP INDEX IF EXISTS exchanges_by_key;

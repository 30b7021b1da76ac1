-- analysis.sql - analysis tables of results.db (decisions, diffs, per-path
-- noise/regression summaries, metrics, labels, threshold sweep, slices).
-- Applied after results.sql by src/store/db.c. Owned by the diff and analyze
-- stages (src/diff, src/analyze); filled by `shadowctl analyze` and at the end
-- of every replay. Idempotent: analysing a run (or one step of it) again
-- replaces that run's (step's) rows.
--
-- Conventions
--   step       NULL = the whole run; k = progressive canary step k only
--              (exchanges.step = k). Per-exchange tables carry no step: join
--              exchanges for it.
--   target     'current' | 'candidate' | 'secondary' for a target's own value;
--              comparison metrics (candidate against current) use 'candidate';
--              run-wide metrics use 'all'.
--   pair       'candidate' = current vs candidate; 'secondary' = current vs
--              secondary (noise).
--   intervals  ci_lo/ci_hi are two-sided (1 - alpha) intervals, alpha from
--              shadow.yaml (default 0.05 -> 95%); NULL when not computable.
--   mde        minimum detectable effect at this sample size (alpha, power 0.8)
--              in the metric's own unit, as a distance from "no change" (0 for
--              rates and deltas, 1 for ratios): for proportions
--              (z_a/2 + z_b) * sqrt(p(1-p)/n) with p clamped to [3/n, 0.5]
--              (paired deltas: sqrt(p_discordant/n)); for bootstrapped metrics
--              the interval half-width * (z_a/2 + z_b) / z_a. NULL when not a
--              statistical metric (counts). The gate answers inconclusive when
--              a criterion's distance from "no change" is smaller than the mde.
--   not applicable  a metric that cannot exist for the run's mode is stored
--              with value NULL and detail {"not_applicable": "..."} (e.g.
--              decision_flip_rate in canary mode).
--   latencies  microseconds. Rates are fractions in 0..1.
--
-- Metric names (metrics.name). Shadow = paired (both targets answered the
-- same request); canary = unpaired (each request went to one side).
--   exchanges            [all] exchanges in scope; [target] responses of target
--   errors               [target] responses with a transport error or status >= 500
--   error_rate           [target] errors / responses, Wilson interval
--   errors_by_kind       [target] value = errors; detail {"refused":n,"reset":n,
--                        "timeout":n,"connect":n,"malformed":n,"too_large":n,
--                        "closed":n,"other":n,"http_5xx":n,"no_status":n}
--   error_rate_delta     [candidate] error_rate(candidate) - error_rate(current);
--                        interval: Newcombe hybrid score (unpaired) or paired
--                        Wald (shadow); p_value: two-proportion z (canary) or
--                        McNemar (shadow)
--   status_mismatch_rate [candidate] shadow: share of pairs whose status differs
--   latency_p50|p90|p95|p99|p999|max|mean  [target] latency_us distribution
--   latency_p50_ratio, latency_p99_ratio   [candidate] candidate / current quantile;
--                        interval: bootstrap (paired resampling in shadow mode,
--                        independent in canary); p_value: Wilcoxon signed-rank
--                        (shadow) or Mann-Whitney U (canary)
--   latency_p50_delta_us, latency_p99_delta_us [candidate] candidate - current,
--                        bootstrap interval
--   latency_effect       [candidate] canary: Mann-Whitney common-language effect
--                        size P(candidate > current) + 0.5 P(=); shadow: share of
--                        pairs where the candidate was slower; p_value as above
--                        (detail: test statistic, rank-biserial correlation,
--                        bootstrap resamples; resamples are reduced to keep
--                        resamples * n near 2e7, at least 50)
--   positive_rate        [target] share of responses decided positive (alert rate)
--   positive_rate_delta  [candidate] positive_rate(candidate) - positive_rate(current);
--                        p_value: McNemar (shadow) / two-proportion z (canary)
--   score_mean           [target] mean score
--   score_delta_mean     [candidate] shadow: mean of candidate - current score,
--                        paired bootstrap interval
--   decision_flip_rate   [candidate] shadow: pairs whose decision differs / pairs
--                        with both decisions; detail {"neg_to_pos":b,"pos_to_neg":c};
--                        p_value: McNemar exact/chi-square on b, c
--   flips_neg_to_pos, flips_pos_to_neg  [candidate] the two counts
--   body_diff_rate       [candidate|secondary] share of pairs with at least one
--                        non-ignored field difference
--   regression_paths     [candidate] number of JSON paths flagged as regression
--                        (path_stats.regression = 1)
--   noisy_paths          [candidate] number of paths with noise_rate > 0
--   labelled             [target] responses whose request key has a label
--   label_coverage       [all] share of exchanges whose request key has a label; detail
--                        {"label_import": K, "config": ID}: the last label_imports.id the
--                        analysis saw and the id of its configuration (all of shadow.yaml
--                        but the criteria); gate and report redo an analysis older than
--                        the last import or made under another configuration
--   fpr, tpr, precision, recall  [target] with Wilson intervals (needs labels);
--                        fpr = FP / (FP + TN) over labelled negatives
--   fpr_delta, tpr_delta [candidate] candidate - current (absolute), interval
--                        Newcombe (unpaired) or paired Wald; detail has "relative"
--   fpr_rel_change       [candidate] fpr(candidate)/fpr(current) - 1
--   threshold_same_volume [candidate] smallest candidate score threshold whose
--                        positive rate does not exceed current's positive rate
--   shed_rate            [target] shed / (sent + shed) from run_targets
--   capture_loss         [all] (kernel drops + stream gaps + truncated + unpaired)
--                        / (capture exchanges + those), from runs.capture_*;
--                        NULL when the traffic file carried no counters
--   duration_s           [all] replay wall time when known

CREATE TABLE IF NOT EXISTS decisions (
  run_id    INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  target    TEXT NOT NULL,
  decision  INTEGER,              -- 1 positive, 0 negative, NULL unreadable/error
  label     TEXT,                 -- value at label_path (verbatim), if any
  score     REAL,                 -- value at score_path, if numeric
  PRIMARY KEY (run_id, seq, target)
) WITHOUT ROWID;

-- One row per compared pair: the classified outcome of the body diff.
CREATE TABLE IF NOT EXISTS pair_diffs (
  run_id        INTEGER NOT NULL,
  seq           INTEGER NOT NULL,
  pair          TEXT NOT NULL CHECK (pair IN ('candidate', 'secondary')),
  status_match  INTEGER,          -- 1 same HTTP status, 0 differ, NULL one side errored
  class         TEXT NOT NULL CHECK (class IN
                  ('equal', 'differ', 'error', 'non_json_equal', 'non_json_differ',
                   'invalid_json', 'too_deep', 'too_large', 'decode_error', 'empty')),
  n_diffs       INTEGER NOT NULL DEFAULT 0,  -- non-ignored field differences
  flip          INTEGER,          -- 1 decision differs, 0 same, NULL unknown
  score_delta   REAL,             -- other score - current score
  PRIMARY KEY (run_id, seq, pair)
) WITHOUT ROWID;

-- Field differences (examples: at most config max_diff_rows_per_path per path
-- and pair are stored; path_stats counts all).
CREATE TABLE IF NOT EXISTS diffs (
  run_id        INTEGER NOT NULL,
  seq           INTEGER NOT NULL,
  pair          TEXT NOT NULL CHECK (pair IN ('candidate', 'secondary')),
  path          TEXT NOT NULL,    -- concrete path, e.g. $.items[3].score
  kind          TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'changed', 'type_changed')),
  current_value TEXT,             -- JSON text (truncated), NULL when added
  other_value   TEXT              -- JSON text (truncated), NULL when removed
);
CREATE INDEX IF NOT EXISTS diffs_by_run ON diffs(run_id, pair, path);

-- Per path (array indices normalised to [*]): candidate diff rate beside the
-- current-vs-secondary noise rate.
CREATE TABLE IF NOT EXISTS path_stats (
  run_id      INTEGER NOT NULL,
  step        INTEGER,            -- NULL whole run
  path        TEXT NOT NULL,      -- normalised, e.g. $.items[*].score
  n           INTEGER NOT NULL,   -- pairs compared (candidate)
  diff_count  INTEGER NOT NULL,
  diff_rate   REAL NOT NULL,
  noise_n     INTEGER NOT NULL DEFAULT 0,  -- pairs compared (secondary)
  noise_count INTEGER NOT NULL DEFAULT 0,
  noise_rate  REAL,               -- NULL when no secondary ran
  p_value     REAL,               -- one-sided: diff rate > noise rate
  regression  INTEGER NOT NULL DEFAULT 0,
  noisy       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS path_stats_by_run ON path_stats(run_id, step);

CREATE TABLE IF NOT EXISTS metrics (
  run_id   INTEGER NOT NULL,
  step     INTEGER,               -- NULL whole run
  scope    TEXT NOT NULL DEFAULT 'run' CHECK (scope IN ('run', 'step')),
  target   TEXT NOT NULL,         -- see conventions
  name     TEXT NOT NULL,         -- see the metric list above
  value    REAL,                  -- NULL when not measurable
  ci_lo    REAL,
  ci_hi    REAL,
  n        INTEGER NOT NULL DEFAULT 0,  -- samples behind the value
  p_value  REAL,
  mde      REAL,
  detail   TEXT                   -- JSON object, metric-specific
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, step, name, target);

-- Ground truth joined by request key (exchanges.request_key).
CREATE TABLE IF NOT EXISTS labels (
  request_key TEXT PRIMARY KEY,
  label       TEXT NOT NULL,      -- verbatim
  positive    INTEGER NOT NULL,   -- 1 when label is the configured positive value
  source      TEXT,               -- imported file
  imported_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS label_imports (
  id          INTEGER PRIMARY KEY,
  source      TEXT NOT NULL,
  format      TEXT NOT NULL,
  imported_at TEXT NOT NULL,
  rows        INTEGER NOT NULL,   -- label rows read
  positives   INTEGER NOT NULL,
  matched     INTEGER NOT NULL,   -- keys found in exchanges
  unmatched   INTEGER NOT NULL    -- keys not found in any run
);

CREATE TABLE IF NOT EXISTS threshold_sweep (
  run_id        INTEGER NOT NULL,
  step          INTEGER,
  target        TEXT NOT NULL,
  threshold     REAL NOT NULL,
  n             INTEGER NOT NULL,  -- responses with a score
  positive_rate REAL,
  fpr           REAL,             -- NULL without labels
  tpr           REAL
);

CREATE TABLE IF NOT EXISTS slices (
  run_id        INTEGER NOT NULL,
  step          INTEGER,
  slice         TEXT NOT NULL,    -- the slice rule, e.g. $.country
  value         TEXT,             -- the request's value (NULL = absent)
  target        TEXT NOT NULL,
  n             INTEGER NOT NULL,
  flip_rate     REAL,
  positive_rate REAL,
  positive_rate_delta REAL,       -- candidate - current within the slice
  fpr           REAL,
  latency_p99   REAL,
  p_value       REAL,             -- shift of positive rate within the slice
  p_adjusted    REAL,             -- Holm or Benjamini-Hochberg over all slice values
  significant   INTEGER NOT NULL DEFAULT 0
);

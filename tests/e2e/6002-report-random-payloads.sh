#!/usr/bin/env bash
# 6002-report-random-payloads (issue 7, security): random bytes stored as
# captured request targets and bodies, answers, URLs, error reasons and diff
# paths never yield markup in the HTML report: every '<' in the page opens
# one of the tags our templates and charts write, and JSON/Markdown/JUnit
# stay well-formed. 3 rounds with different seeds.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
command -v python3 >/dev/null || skip "python3 missing"
for seed in 1 2 3; do
  db=$T/r$seed.db
  python3 - "$db" "$seed" "$SC_SOURCE_DIR" <<'PY' || fail "building database (seed $seed)"
import random, sqlite3, sys
db, seed, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rnd = random.Random(seed)
def junk(n):
    alpha = b'<>"\'&/=` \x00\xff\xfe\xc0\xbc\n\tscriptimgonerror()' + bytes(range(32, 127))
    return bytes(rnd.choice(alpha) for _ in range(rnd.randint(0, n)))
def s(n):  # text column: arbitrary bytes stored as text
    return junk(n).decode('latin-1')
c = sqlite3.connect(db)
c.executescript(open(src + '/schemas/results.sql').read())
c.executescript(open(src + '/schemas/analysis.sql').read())
c.execute('PRAGMA user_version = 1')
c.execute("INSERT INTO runs (id, traffic_file, mode, current_url, candidate_url, pacing, started_at, status, status_reason, steps)"
          " VALUES (1, ?, 'shadow', ?, ?, 'max', ?, 'aborted', ?, ?)", (s(40), s(40), s(40), s(20), s(60), s(20)))
c.execute("INSERT INTO run_targets VALUES (1, 'current', ?, 10, 0, 0, 1), (1, 'candidate', ?, 10, 0, 0, 1)", (s(30), s(30)))
for i in range(1, 41):
    c.execute("INSERT INTO exchanges (run_id, seq, exchange_id, step, routed, method, target, req_body) VALUES (1, ?, ?, ?, 'both', ?, ?, ?)",
              (i, i, i % 2, s(8), s(80), junk(300)))
    for t in ('current', 'candidate'):
        c.execute("INSERT INTO responses (run_id, seq, target, status, latency_us, body, error) VALUES (1, ?, ?, ?, ?, ?, ?)",
                  (i, t, rnd.choice([200, 500, None]), rnd.uniform(100, 9000), junk(300), rnd.choice([None, 'timeout', 'reset'])))
    c.execute("INSERT INTO decisions VALUES (1, ?, 'current', ?, ?, ?), (1, ?, 'candidate', ?, ?, ?)",
              (i, rnd.randint(0, 1), s(10), rnd.random(), i, rnd.randint(0, 1), s(10), rnd.random()))
    c.execute("INSERT INTO pair_diffs (run_id, seq, pair, class, n_diffs, flip, score_delta) VALUES (1, ?, 'candidate', 'differ', 1, ?, ?)",
              (i, rnd.randint(0, 1), rnd.uniform(-1, 1)))
    p = '$.' + s(12)
    c.execute("INSERT INTO diffs VALUES (1, ?, 'candidate', ?, 'changed', ?, ?)", (i, p, s(30), s(30)))
    c.execute("INSERT INTO path_stats (run_id, step, path, n, diff_count, diff_rate, noise_rate, regression) VALUES (1, NULL, ?, 40, 1, 0.5, 0.1, 1)", (p,))
c.execute("INSERT INTO metrics (run_id, step, target, name, value, ci_lo, ci_hi, n, detail) VALUES (1, NULL, 'candidate', 'decision_flip_rate', 0.5, 0.3, 0.7, 40, ?)", (s(40),))
c.execute("INSERT INTO metrics (run_id, step, target, name, value, n) VALUES (1, NULL, 'all', 'exchanges', 40, 40)")
c.execute("INSERT INTO steps VALUES (1, 0, 0.1, ?, ?, 20, ?, ?), (1, 1, 0.5, NULL, NULL, 20, 'fail', ?)", (s(10), s(10), s(10), s(40), s(40)))
c.commit()
PY
  "$SHADOWCTL" report --db "$db" -o "$T/r$seed.html" 2>"$T/e$seed" || fail "report (seed $seed): $(cat "$T/e$seed")"
  python3 - "$T/r$seed.html" <<'PY' || fail "markup from captured data in the report (seed $seed)"
import re, sys
html = open(sys.argv[1], 'rb').read().decode('utf-8')  # must be valid UTF-8
allowed = set('html head meta title style body header h1 span p main section h2 h3 h4 strong div table thead '
              'tr th tbody td dl dt dd figure b code pre footer svg path text rect'.split())
for m in re.finditer(r'<(/?)([^\s>/]*)', html):
    name = m.group(2).lower()
    if name.startswith('!'):
        if name not in ('!doctype',): sys.exit('unexpected <%s at %d' % (name, m.start()))
        continue
    if name not in allowed:
        sys.exit('unexpected tag <%s%s at %d: %r' % (m.group(1), name, m.start(), html[m.start():m.start() + 60]))
if '\x00' in html: sys.exit('NUL in the page')
PY
  for f in json markdown junit; do
    "$SHADOWCTL" report --db "$db" --format $f -o "$T/r$seed.$f" 2>"$T/e$seed" || fail "report --format $f (seed $seed): $(cat "$T/e$seed")"
  done
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/r$seed.json" || fail "JSON report invalid (seed $seed)"
  if command -v xmllint >/dev/null; then xmllint --noout "$T/r$seed.junit" || fail "JUnit invalid (seed $seed)"; fi
  grep -qiE '<(script|img)' "$T/r$seed.markdown" && fail "markup in the Markdown report (seed $seed)"
done
pass

#!/usr/bin/env bash
# 3008-replay-steps: progressive canary --steps with the gate evaluating each
# step. A candidate that fails half its requests breaches at the first step:
# sending stops, the run is 'aborted' with aborted_step, exit 1. A healthy
# candidate ramps through every step and the run completes.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK=$SC_BUILD_DIR/mkshdw
[ -x "$MK" ] || skip "mkshdw not built"
"$MK" -o "$T/t.shdw" --count 2000 >/dev/null || fail "mkshdw"
cat >"$T/shadow.yaml" <<'YAML'
criteria:
  - {name: error_rate_delta, metric: error_rate_delta, max: 0.05, min_samples: 30}
YAML
start_model cur
start_model bad --profile v2-good --error-rate 0.5 --seed 3
start_model good --profile v1
q() { sqlite3 "$T/$1" "$2"; }
"$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --candidate "$bad_url" --steps 20,50 --step-exchanges 400 \
  --max --config "$T/shadow.yaml" --db "$T/bad.db" 2>"$T/bad.err"; st=$?
expect_status 1 $st "breaching candidate ($(cat "$T/bad.err"))"
[ "$(q bad.db "select status from runs")" = aborted ] || fail "status $(q bad.db "select status from runs")"
[ "$(q bad.db "select aborted_step from runs")" = 0 ] || fail "aborted_step $(q bad.db "select aborted_step from runs")"
[ "$(q bad.db "select verdict from steps where step=0")" = fail ] || fail "step verdict"
[ "$(q bad.db "select count(*) from steps")" = 1 ] || fail "a step after the breach was started"
[ "$(q bad.db "select count(*) from exchanges")" = 400 ] || fail "exchanges sent after the breach: $(q bad.db "select count(*) from exchanges")"
grep -q "breached" "$T/bad.err" || fail "no breach message: $(cat "$T/bad.err")"
"$SHADOWCTL" runs --db "$T/bad.db" | grep -qE "^1 .*aborted" || fail "runs does not show aborted"

"$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --candidate "$good_url" --steps 20,50 --step-exchanges 400 \
  --max --config "$T/shadow.yaml" --db "$T/good.db" 2>"$T/good.err"; st=$?
expect_status 0 $st "healthy candidate ($(cat "$T/good.err"))"
[ "$(q good.db "select status from runs")" = completed ] || fail "healthy: status"
[ "$(q good.db "select count(*) from steps where verdict in ('pass','inconclusive') and exchanges=400")" = 2 ] || \
  fail "healthy: steps $(q good.db "select * from steps")"
[ "$(q good.db "select count(*) from exchanges")" = 800 ] || fail "healthy: exchanges"
c0=$(q good.db "select count(*) from exchanges where step=0 and routed='candidate'")
c1=$(q good.db "select count(*) from exchanges where step=1 and routed='candidate'")
[ "$c0" -ge 45 ] && [ "$c0" -le 120 ] || fail "step 0 candidate share $c0/400 (20%)"
[ "$c1" -ge 150 ] && [ "$c1" -le 250 ] || fail "step 1 candidate share $c1/400 (50%)"
pass

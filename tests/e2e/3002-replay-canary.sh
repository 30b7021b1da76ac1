#!/usr/bin/env bash
# 3002-replay-canary: --canary P% sends each request to exactly one side; the
# realised fraction is within tolerance; the split is the same on a rerun
# with the same seed and differs with another seed; --key header:/json path.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK=$SC_BUILD_DIR/mkshdw
[ -x "$MK" ] || skip "mkshdw not built"
start_model cur
start_model cand --profile v2-good
N=2000
"$MK" -o "$T/t.shdw" --count $N >/dev/null || fail "mkshdw"
run() { # db seed extra...
  local db=$1 seed=$2; shift 2
  "$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --candidate "$cand_url" --canary 20% --seed "$seed" \
    --max --db "$T/$db" "$@" 2>"$T/$db.err" || fail "replay $db: $(cat "$T/$db.err")"
}
run a.db 7
run b.db 7
run c.db 8
q() { sqlite3 "$T/$1" "$2"; }
cand=$(q a.db "select count(*) from exchanges where routed='candidate'")
cur=$(q a.db "select count(*) from exchanges where routed='current'")
[ $((cand + cur)) = $N ] || fail "split does not cover every request: $cand + $cur"
# 20% of 2000 = 400, sd ~ 18: accept 4.5 sd
[ "$cand" -ge 320 ] && [ "$cand" -le 480 ] || fail "candidate share $cand of $N, expected ~400"
# exactly one response per exchange, from the routed side
[ "$(q a.db "select count(*) from responses r join exchanges e using(run_id,seq) where r.target<>e.routed")" = 0 ] || fail "answer from the wrong side"
[ "$(q a.db "select count(*) from responses")" = $N ] || fail "responses"
sa=$(q a.db "select group_concat(exchange_id) from (select exchange_id from exchanges where routed='candidate' order by exchange_id)")
sb=$(q b.db "select group_concat(exchange_id) from (select exchange_id from exchanges where routed='candidate' order by exchange_id)")
sc=$(q c.db "select group_concat(exchange_id) from (select exchange_id from exchanges where routed='candidate' order by exchange_id)")
[ "$sa" = "$sb" ] || fail "same seed gave a different split"
[ "$sa" != "$sc" ] || fail "another seed gave the same split"
# key rule from the request body: same txn_id -> same key stored
run d.db 7 --key '$.txn_id'
[ "$(q d.db "select request_key from exchanges where exchange_id=1")" = t000001 ] || fail "json key: $(q d.db "select request_key from exchanges where exchange_id=1")"
"$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --candidate "$cand_url" --canary 20% --key 'bogus' --db "$T/e.db" 2>"$T/e.err"; st=$?
expect_status 2 $st "invalid --key"
# the key rule from shadow.yaml, and --key overriding it
printf 'request_key: "$.merchant"\n' >"$T/shadow.yaml"
run f.db 7 --config "$T/shadow.yaml"
[ "$(q f.db "select request_key from exchanges where exchange_id=1")" = "$(q f.db "select json_extract(cast(req_body as text), '$.merchant') from exchanges where exchange_id=1")" ] \
  || fail "config key: $(q f.db "select request_key from exchanges where exchange_id=1")"
run g.db 7 --config "$T/shadow.yaml" --key '$.txn_id'
[ "$(q g.db "select request_key from exchanges where exchange_id=1")" = t000001 ] || fail "--key does not override the config"
# partial shadow: everything to current, ~20% mirrored ("--shadow 20%" with a space)
"$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --candidate "$cand_url" --shadow 20% --seed 7 --max \
  --db "$T/s.db" 2>"$T/s.err" || fail "--shadow 20%: $(cat "$T/s.err")"
[ "$(q s.db "select count(*) from responses where target='current'")" = $N ] || fail "shadow 20%: current"
m=$(q s.db "select count(*) from exchanges where routed='both'")
[ "$m" = "$(q s.db "select count(*) from responses where target='candidate'")" ] || fail "shadow 20%: mirrored rows"
[ "$m" -ge 320 ] && [ "$m" -le 480 ] || fail "shadow 20%: $m of $N mirrored"
# the same seed mirrors the same requests the canary sent to the candidate
sm=$(q s.db "select group_concat(exchange_id) from (select exchange_id from exchanges where routed='both' order by exchange_id)")
[ "$sm" = "$sa" ] || fail "shadow 20% and canary 20% with one seed chose different requests"
pass

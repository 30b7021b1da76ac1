#!/usr/bin/env bash
# 3004-replay-faults: servers that reset, hang past the timeout, send a
# partial body, a 50 MB body, invalid HTTP or close after the headers: the
# replay keeps going, classifies each, and its memory stays bounded.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK=$SC_BUILD_DIR/mkshdw
[ -x "$MK" ] || skip "mkshdw not built"
"$MK" -o "$T/t.shdw" --count 12 >/dev/null || fail "mkshdw"
q() { sqlite3 "$T/r.db" "$1"; }
check() { # kind expected-error [timeout]
  local kind=$1 want=$2 to=${3:-1s}
  start_model "m_${kind//-/_}" --misbehave "$kind" --misbehave-rate 1
  eval "u=\$m_${kind//-/_}_url"
  rm -f "$T/r.db"
  /usr/bin/time -f %M -o "$T/rss" "$SHADOWCTL" replay "$T/t.shdw" --current "$u" --max --concurrency 4 \
    --timeout "$to" --db "$T/r.db" 2>"$T/err"; st=$?
  expect_status 0 $st "$kind: $(cat "$T/err")"
  got=$(q "select group_concat(e, ',') from (select distinct coalesce(error, 'ok') e from responses)")
  [ "$got" = "$want" ] || fail "$kind: classified as '$got', expected '$want'"
  [ "$(q "select count(*) from responses")" = 12 ] || fail "$kind: not every request recorded"
  rss=$(tail -1 "$T/rss")
  if [ "${SC_SANITIZE:-0}" != 1 ] && [ "${SC_SANITIZE:-0}" != ON ]; then
    [ "$rss" -lt 120000 ] || fail "$kind: peak RSS ${rss} kB"
  fi
  echo "$kind -> $got (peak RSS ${rss} kB)"
}
check reset reset
check hang timeout
check partial closed
check invalid-http malformed
check close-after-headers closed
check garbage malformed
# 50 MB bodies: read to the end (under the 64 MiB limit), stored up to the cap, hashed in full
check huge ok 30s
[ "$(q "select min(body_len) from responses")" -ge 50000000 ] || fail "huge: body_len $(q "select min(body_len) from responses")"
[ "$(q "select count(*) from responses where body_truncated=1 and length(body)=1048576")" = 12 ] || fail "huge: body not capped"
pass

#!/usr/bin/env bash
# 2001-traffic-inspect: `shadowctl inspect` on mkshdw-made files (zstd and
# plain): lines, --count, filters, --limit, --json (parsed), --header,
# --validate, stdin, and output files are mode 0600.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK="$SC_BUILD_DIR/mkshdw"
[ -x "$MK" ] || skip "mkshdw fixture not built"

"$MK" -o "$T/z.shdw" --count 50 --seed 7 || fail "mkshdw zstd"
"$MK" -o "$T/p.shdw" --count 50 --seed 7 --no-compress --target-prefix /v2/other || fail "mkshdw plain"
"$MK" -o "$T/b.shdw" --count 3 --binary-body --body-size 100 || fail "mkshdw binary"
[ "$(stat -c %a "$T/z.shdw")" = 600 ] || fail "traffic file mode is $(stat -c %a "$T/z.shdw"), want 600"
[ "$(head -c 4 "$T/z.shdw")" = SHDW ] || fail "magic"
zsize=$(stat -c %s "$T/z.shdw"); psize=$(stat -c %s "$T/p.shdw")
[ "$zsize" -lt "$psize" ] || fail "compressed file ($zsize) not smaller than plain ($psize)"

for f in z p; do
  out=$("$SHADOWCTL" inspect "$T/$f.shdw" 2>"$T/err"); st=$?
  expect_status 0 $st "inspect $f"
  [ -s "$T/err" ] && fail "inspect $f wrote to stderr: $(cat "$T/err")"
  [ "$(wc -l <<<"$out")" -eq 50 ] || fail "inspect $f: want 50 lines, got $(wc -l <<<"$out")"
  first=$(head -1 <<<"$out")
  grep -qE '^2026-01-01T00:00:00\.000Z 10\.0\.0\.[0-9]+:[0-9]+ -> 10\.0\.1\.1:8080 POST /v[12]/[a-z]+ 200 req=[0-9]+B resp=[0-9]+B [0-9]+\.[0-9]{3}ms -$' <<<"$first" \
    || fail "inspect $f line format: $first"
  c=$("$SHADOWCTL" inspect --count "$T/$f.shdw"); expect_status 0 $? "--count"
  [ "$c" = 50 ] || fail "--count $f: $c"
done

[ "$("$SHADOWCTL" inspect --count --method post "$T/z.shdw")" = 50 ] || fail "--method is case-insensitive"
[ "$("$SHADOWCTL" inspect --count --method GET "$T/z.shdw")" = 0 ] || fail "--method GET"
[ "$("$SHADOWCTL" inspect --count --status 200 "$T/z.shdw")" = 50 ] || fail "--status 200"
[ "$("$SHADOWCTL" inspect --count --status 404 "$T/z.shdw")" = 0 ] || fail "--status 404"
[ "$("$SHADOWCTL" inspect --count --grep /v2/ "$T/p.shdw")" = 50 ] || fail "--grep match"
[ "$("$SHADOWCTL" inspect --count --grep /v2/ "$T/z.shdw")" = 0 ] || fail "--grep no match"
[ "$("$SHADOWCTL" inspect --limit 7 "$T/z.shdw" | wc -l)" = 7 ] || fail "--limit 7"
[ "$("$SHADOWCTL" inspect --count --limit 7 "$T/z.shdw")" = 7 ] || fail "--count --limit"
[ "$("$SHADOWCTL" inspect --count - <"$T/z.shdw")" = 50 ] || fail "stdin (zstd)"
[ "$(cat "$T/p.shdw" | "$SHADOWCTL" inspect --count -)" = 50 ] || fail "stdin pipe (plain)"

out=$("$SHADOWCTL" inspect --validate "$T/z.shdw"); expect_status 0 $? "--validate good"
[ "$out" = "50 exchanges read; $T/z.shdw is valid" ] || fail "--validate message: $out"

h=$("$SHADOWCTL" inspect --header "$T/z.shdw"); expect_status 0 $? "--header"
grep -q '^compression:  zstd$' <<<"$h" || fail "--header compression: $h"
grep -q '^source:       synthetic mkshdw$' <<<"$h" || fail "--header source"
grep -q '^exchanges:    50$' <<<"$h" || fail "--header exchanges"
grep -q '^connections:  8$' <<<"$h" || fail "--header trailer stats"
grep -q '^compression:  none$' <<<"$("$SHADOWCTL" inspect --header "$T/p.shdw")" || fail "--header plain"

if command -v python3 >/dev/null; then
  "$SHADOWCTL" inspect --json "$T/z.shdw" >"$T/z.jsonl" || fail "--json"
  "$SHADOWCTL" inspect --json "$T/b.shdw" >"$T/b.jsonl" || fail "--json binary"
  "$SHADOWCTL" inspect --json --header "$T/z.shdw" >"$T/h.json" || fail "--json --header"
  python3 - "$T" <<'PY' || fail "--json content"
import base64, json, sys
t = sys.argv[1]
rows = [json.loads(l) for l in open(t + "/z.jsonl")]
assert len(rows) == 50, len(rows)
assert [r["id"] for r in rows] == list(range(1, 51))
r = rows[0]
assert r["req"]["method"] == "POST" and r["req"]["target"] == "/v1/score"
assert r["resp"]["status"] == 200 and r["resp"]["reason"] == "OK"
assert r["req"]["body_encoding"] == "utf8"
body = json.loads(r["req"]["body"])
assert body["txn_id"] == "t000001", body
assert len(r["req"]["body"]) == r["req"]["body_len"]
assert ["Content-Type", "application/json"] in r["req"]["headers"]
assert r["conn"]["family"] == 4 and r["conn"]["server"] == "10.0.1.1" and r["conn"]["server_port"] == 8080
assert r["ts_ns"]["resp_last"] > r["ts_ns"]["req_first"] > 0
assert 2 <= r["latency_ms"] <= 21, r["latency_ms"]
assert r["flags"] == [] and r["flags_raw"] == 0
b = [json.loads(l) for l in open(t + "/b.jsonl")]
assert b[0]["req"]["body_encoding"] == "base64"
assert len(base64.b64decode(b[0]["req"]["body"])) == b[0]["req"]["body_len"] == 100
h = json.load(open(t + "/h.json"))
assert h["header"]["compression"] == "zstd" and h["exchanges"] == 50 and h["complete"] is True
assert h["stats"]["exchanges"] == 50
PY
fi
pass

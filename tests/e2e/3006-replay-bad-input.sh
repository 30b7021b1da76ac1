#!/usr/bin/env bash
# 3006-replay-bad-input: unreachable URL (recorded as refused, run completed,
# exit 0), malformed and https URLs (exit 2), missing traffic file (exit 2),
# corrupt/truncated traffic file (good part replayed, position reported,
# exit 1), database path not writable (exit 2). One clear line each.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK=$SC_BUILD_DIR/mkshdw
[ -x "$MK" ] || skip "mkshdw not built"
"$MK" -o "$T/t.shdw" --count 50 --no-compress >/dev/null || fail "mkshdw"
start_model cur
# a port nobody listens on: bind, learn it, close
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$SHADOWCTL" replay "$T/t.shdw" --current "http://127.0.0.1:$port" --max --db "$T/u.db" 2>"$T/u.err"; st=$?
expect_status 0 $st "unreachable URL"
[ "$(sqlite3 "$T/u.db" "select count(*) from responses where error='refused'")" = 50 ] || fail "refused not recorded"
[ "$(sqlite3 "$T/u.db" "select status from runs")" = completed ] || fail "unreachable: status"
grep -q "refused 50" "$T/u.err" || fail "summary does not show refused: $(cat "$T/u.err")"

one_line() { # file status what pattern
  [ "$(wc -l <"$1")" -ge 1 ] || fail "$3: no message"
  grep -q "^shadowctl replay: .*$4" "$1" || fail "$3: message: $(cat "$1")"
}
"$SHADOWCTL" replay "$T/t.shdw" --current "http//nope" --db "$T/x.db" 2>"$T/e1"; st=$?
expect_status 2 $st "malformed URL"; one_line "$T/e1" 2 "malformed URL" "malformed URL"
"$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --candidate "https://127.0.0.1:1" --db "$T/x.db" 2>"$T/e2"; st=$?
expect_status 2 $st "https URL"; one_line "$T/e2" 2 "https" "TLS is not supported yet"
[ ! -e "$T/x.db" ] || fail "a database was created for a bad command line"
"$SHADOWCTL" replay "$T/missing.shdw" --current "$cur_url" --db "$T/x.db" 2>"$T/e3"; st=$?
expect_status 2 $st "missing traffic file"; one_line "$T/e3" 2 "missing file" "missing.shdw"
mkdir -p "$T/ro"; chmod 500 "$T/ro"
if [ "$(id -u)" != 0 ]; then
  "$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --db "$T/ro/r.db" 2>"$T/e4"; st=$?
  expect_status 2 $st "unwritable database"; one_line "$T/e4" 2 "unwritable db" "r.db"
fi
"$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --db "$T/nodir/r.db" 2>"$T/e5"; st=$?
expect_status 2 $st "database in a missing directory"
# corrupt: cut the (uncompressed) file in the middle of a record
size=$(stat -c %s "$T/t.shdw")
head -c $((size * 6 / 10)) "$T/t.shdw" >"$T/cut.shdw"
"$SHADOWCTL" replay "$T/cut.shdw" --current "$cur_url" --max --db "$T/c.db" 2>"$T/e6"; st=$?
expect_status 1 $st "truncated traffic file ($(cat "$T/e6"))"
n=$(sqlite3 "$T/c.db" "select count(*) from responses where status=200")
[ "$n" -ge 20 ] && [ "$n" -lt 50 ] || fail "truncated file: $n exchanges replayed"
grep -qE "shadowctl replay: $n exchanges read; .*cut.shdw.* at byte [0-9]+" "$T/e6" || fail "truncated file message: $(cat "$T/e6")"
[ -n "$(sqlite3 "$T/c.db" "select traffic_error from runs")" ] || fail "traffic_error not recorded"
pass

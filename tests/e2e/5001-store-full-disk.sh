#!/usr/bin/env bash
# 5001-store-full-disk: the results database hits a file size limit
# (RLIMIT_FSIZE, as a full disk would) in the middle of a replay: one clear
# error line, exit 1, and a database that opens cleanly with every batch
# committed before the failure; `runs` shows the run interrupted.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK=$SC_BUILD_DIR/mkshdw
[ -x "$MK" ] || skip "mkshdw not built"
"$MK" -o "$T/t.shdw" --count 3000 --body-size 2000 >/dev/null || fail "mkshdw"
start_model cur
# SIGXFSZ ignored: the write fails with EFBIG instead of killing the process
( trap '' XFSZ; ulimit -f 3072; exec "$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --max \
    --db "$T/r.db" ) 2>"$T/err"; st=$?
expect_status 1 $st "replay into a full database ($(cat "$T/err"))"
grep -q "^shadowctl replay: .*\(disk\|full\|space\|I/O\)" "$T/err" || fail "no clear error: $(cat "$T/err")"
[ "$(sqlite3 "$T/r.db" "pragma integrity_check")" = ok ] || fail "integrity"
n=$(sqlite3 "$T/r.db" "select count(*) from exchanges")
[ "$n" -gt 0 ] && [ "$n" -lt 3000 ] || fail "$n exchanges kept"
[ "$(sqlite3 "$T/r.db" "select count(*) from responses")" = "$n" ] || fail "an exchange lost its response"
out=$("$SHADOWCTL" runs --db "$T/r.db") || fail "runs"
grep -qE "^1 .* interrupted " <<<"$out" || fail "runs: $out"
pass

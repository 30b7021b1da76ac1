#!/usr/bin/env bash
# 2002-traffic-bad-input: corrupt middle record, truncated files, non-traffic
# files, empty files and usage errors give one clear line naming the file and
# position, the documented exit status (--validate: 1 corrupt/truncated,
# 2 not a traffic file), keep the good exchanges, and no sanitizer report.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK="$SC_BUILD_DIR/mkshdw"
[ -x "$MK" ] || skip "mkshdw fixture not built"

"$MK" -o "$T/p.shdw" --count 40 --no-compress || fail "mkshdw"
"$MK" -o "$T/z.shdw" --count 600 || fail "mkshdw zstd"
size=$(stat -c %s "$T/p.shdw")

no_sanitizer() { grep -qi sanitizer "$1" && fail "sanitizer report: $(cat "$1")"; return 0; }
one_line() { [ "$(wc -l <"$1")" -eq 1 ] || fail "want one error line, got: $(cat "$1")"; }

# A flipped byte in the middle record.
cp "$T/p.shdw" "$T/bad.shdw"
mid=$((size / 2))
printf '\x00' | dd of="$T/bad.shdw" bs=1 seek=$mid conv=notrunc status=none
orig=$(dd if="$T/p.shdw" bs=1 skip=$mid count=1 status=none | od -An -tx1 | tr -d ' ')
[ "$orig" = 00 ] && printf '\x01' | dd of="$T/bad.shdw" bs=1 seek=$mid conv=notrunc status=none
out=$("$SHADOWCTL" inspect --validate "$T/bad.shdw" 2>"$T/err"); st=$?
expect_status 1 $st "--validate corrupt"
one_line "$T/err"; no_sanitizer "$T/err"
grep -qE "^shadowctl inspect: ([0-9]+) exchanges read; $T/bad.shdw corrupt at byte ([0-9]+): checksum mismatch$" "$T/err" \
  || fail "corrupt message: $(cat "$T/err")"
n=$(sed -E 's/^shadowctl inspect: ([0-9]+) exchanges.*/\1/' "$T/err")
at=$(sed -E 's/.* at byte ([0-9]+):.*/\1/' "$T/err")
[ "$n" -ge 15 ] && [ "$n" -le 25 ] || fail "corrupt record should be in the middle, got $n exchanges before"
[ "$at" -le "$mid" ] && [ "$at" -gt $((mid - 1000)) ] || fail "offset $at should be the frame holding byte $mid"
"$SHADOWCTL" inspect "$T/bad.shdw" >"$T/out2" 2>"$T/err2"; st=$?
lines=$(wc -l <"$T/out2")
expect_status 2 $st "inspect corrupt (no --validate)"
[ "$lines" = "$n" ] || fail "inspect printed $lines exchanges, want the $n good ones"
one_line "$T/err2"

# Truncated files: plain at every 997th byte, zstd at a few points.
for cut in $(seq 100 997 "$size"); do
  head -c "$cut" "$T/p.shdw" >"$T/cut.shdw"
  "$SHADOWCTL" inspect --validate "$T/cut.shdw" >/dev/null 2>"$T/err"; st=$?
  expect_status 1 $st "--validate cut at $cut"
  no_sanitizer "$T/err"
  grep -q "$T/cut.shdw truncated at byte" "$T/err" || fail "cut $cut: $(cat "$T/err")"
done
zsize=$(stat -c %s "$T/z.shdw")
for cut in $((zsize * 2 / 3)) $((zsize - 20)) $((zsize - 1)); do
  head -c "$cut" "$T/z.shdw" >"$T/zcut.shdw"
  "$SHADOWCTL" inspect --validate "$T/zcut.shdw" >/dev/null 2>"$T/err"; st=$?
  expect_status 1 $st "--validate zstd cut at $cut"
  grep -qE "$T/zcut.shdw (truncated|corrupt) at decompressed byte [0-9]+" "$T/err" || fail "zstd cut $cut: $(cat "$T/err")"
  c=$("$SHADOWCTL" inspect --count "$T/zcut.shdw" 2>/dev/null)
  [ "$c" -ge 256 ] || fail "zstd cut at $cut kept only $c exchanges (flushes every 256)"
done

# Not traffic files, empty, missing, unreadable.
printf 'GET / HTTP/1.1\r\n\r\n' >"$T/http.txt"
: >"$T/empty.shdw"
for f in "$T/http.txt" "$T/empty.shdw" "$T/missing.shdw"; do
  for mode in "" --validate --count; do
    "$SHADOWCTL" inspect $mode "$f" >/dev/null 2>"$T/err"; st=$?
    expect_status 2 $st "inspect $mode $f"
    one_line "$T/err"; no_sanitizer "$T/err"
    grep -qF "$f" "$T/err" || fail "message does not name the file: $(cat "$T/err")"
  done
done
grep -q "is not a shadowctl traffic file (bad magic)" <<<"$("$SHADOWCTL" inspect "$T/http.txt" 2>&1)" || fail "bad magic message"
grep -q "is empty, not a shadowctl traffic file" <<<"$("$SHADOWCTL" inspect "$T/empty.shdw" 2>&1)" || fail "empty message"
grep -q "cannot open traffic file '$T/missing.shdw': No such file or directory" <<<"$("$SHADOWCTL" inspect "$T/missing.shdw" 2>&1)" \
  || fail "missing file message"

"$SHADOWCTL" inspect "$T" >/dev/null 2>"$T/err"; expect_status 2 $? "a directory"
grep -q "cannot read traffic file '$T': Is a directory" "$T/err" || fail "directory message: $(cat "$T/err")"

# Usage errors.
"$SHADOWCTL" inspect >/dev/null 2>&1; expect_status 2 $? "no file"
"$SHADOWCTL" inspect "$T/p.shdw" "$T/p.shdw" >/dev/null 2>&1; expect_status 2 $? "two files"
"$SHADOWCTL" inspect --status abc "$T/p.shdw" >/dev/null 2>&1; expect_status 2 $? "--status abc"
"$SHADOWCTL" inspect --status 1000 "$T/p.shdw" >/dev/null 2>&1; expect_status 2 $? "--status 1000"
"$SHADOWCTL" inspect --limit -1 "$T/p.shdw" >/dev/null 2>&1; expect_status 2 $? "--limit -1"
"$SHADOWCTL" inspect --validate --count "$T/p.shdw" >/dev/null 2>&1; expect_status 2 $? "--validate --count"
h=$("$SHADOWCTL" inspect --help); expect_status 0 $? "--help"
for w in --json --count --validate --header --method --status --grep --limit "Exit status" Examples; do
  grep -q -- "$w" <<<"$h" || fail "--help lacks $w"
done
pass

#!/usr/bin/env bash
# 2003-traffic-cut-random: a traffic file cut at a random byte is read up to
# its last whole exchange: what inspect prints is exactly the first K lines of
# the full file's listing, K matches the cut position, --validate says
# truncated (exit 1). Plain and zstd (zstd keeps everything before the last
# flush point or zstd block; mkshdw's writer flushes every 256 exchanges).
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
MK="$SC_BUILD_DIR/mkshdw"
[ -x "$MK" ] || skip "mkshdw fixture not built"
seed=${SC_CUT_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$seed
echo "random seed $seed (rerun with SC_CUT_SEED=$seed)"

"$MK" -o "$T/p.shdw" --count 300 --no-compress --body-size 200 || fail "mkshdw plain"
"$MK" -o "$T/z.shdw" --count 1000 || fail "mkshdw zstd"
"$SHADOWCTL" inspect "$T/p.shdw" >"$T/p.all" || fail "full plain listing"
"$SHADOWCTL" inspect "$T/z.shdw" >"$T/z.all" || fail "full zstd listing"
psize=$(stat -c %s "$T/p.shdw"); zsize=$(stat -c %s "$T/z.shdw")
per=$(( psize / 300 ))

for i in $(seq 1 12); do
  for kind in p z; do
    size=$psize; [ $kind = z ] && size=$zsize
    cut=$(( (RANDOM * 32768 + RANDOM) % (size - 1) + 1 ))
    [ "$i" = 1 ] && cut=$(( size - 1 ))
    head -c "$cut" "$T/$kind.shdw" >"$T/cut.shdw"
    "$SHADOWCTL" inspect "$T/cut.shdw" >"$T/cut.out" 2>"$T/cut.err"; st=$?
    grep -qi sanitizer "$T/cut.err" && fail "sanitizer report at cut $cut: $(cat "$T/cut.err")"
    k=$(wc -l <"$T/cut.out")
    if [ "$k" -gt 0 ]; then
      expect_status 2 $st "$kind cut at $cut"
      head -n "$k" "$T/$kind.all" | cmp -s - "$T/cut.out" || fail "$kind cut at $cut: the $k exchanges printed are not the file's first $k"
      grep -qE "^shadowctl inspect: $k exchanges read; $T/cut.shdw (truncated|corrupt) at " "$T/cut.err" \
        || fail "$kind cut at $cut: error line: $(cat "$T/cut.err")"
    else
      [ "$st" = 2 ] || fail "$kind cut at $cut: exit $st"
    fi
    if [ $kind = p ]; then
      # every exchange frame is about $per bytes: the count must match the cut
      lo=$(( (cut - 400) / per - 2 )); hi=$(( cut / per + 1 ))
      [ "$k" -ge "$lo" ] && [ "$k" -le "$hi" ] || fail "plain cut at $cut: $k exchanges, want $lo..$hi"
    elif [ "$cut" -ge $(( size - 8 )) ]; then
      # only the end of the zstd stream is missing: at most the exchanges
      # after the last flush (every 256) are lost
      [ "$k" -ge 768 ] || fail "zstd cut at $cut (end of file): only $k exchanges"
    fi
    "$SHADOWCTL" inspect --validate "$T/cut.shdw" >/dev/null 2>&1; st=$?
    [ "$st" = 1 ] || [ "$cut" -lt 8 ] || fail "--validate at cut $cut: exit $st"
  done
done
pass

#!/usr/bin/env bash
# 1004-capture-golden: every case of tests/cases/CASES (synthetic captures
# from tests/cases/mkpcaps.py) is captured and listed with `inspect`; the list
# must equal the golden file. SC_UPDATE_GOLDEN=1 rewrites the golden files.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
: "${SC_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
D=$SC_SOURCE_DIR/tests/cases
bad=0
while read -r name input expected flags; do
  case "$name" in ''|'#'*) continue ;; esac
  # shellcheck disable=SC2086
  "$SHADOWCTL" -q capture -r "$D/$input" $flags -o "$T/$name.shdw" 2>"$T/$name.err" \
    || fail "$name: capture failed: $(cat "$T/$name.err")"
  "$SHADOWCTL" inspect "$T/$name.shdw" > "$T/$name.got" || fail "$name: inspect failed"
  if [ "${SC_UPDATE_GOLDEN:-}" = 1 ]; then cp "$T/$name.got" "$D/$expected"; fi
  if diff -u "$D/$expected" "$T/$name.got"; then echo "ok $name"; else echo "FAIL $name"; bad=1; fi
done < "$D/CASES"
[ "$bad" = 0 ] || fail "golden mismatch"
pass

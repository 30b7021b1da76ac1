#!/usr/bin/env bash
# 6001-report-html: a shadow run whose candidate answers carry
# <script>alert(1)</script> and "><img src=x onerror=alert(1)> gives a
# self-contained HTML report (no script, no external reference) in which the
# payloads appear escaped; headless Chromium renders it with the verdict
# visible (screenshot written), and its DOM has no <script>/<img> element.
# JSON, Markdown and JUnit formats carry the same verdict; JUnit validates
# with xmllint.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
TX=$SC_BUILD_DIR/txgen
[ -x "$TX" ] || skip "txgen not built"
command -v sqlite3 >/dev/null || skip "sqlite3 missing"
start_model cur --profile v1
start_model cand --profile v2-bad
N=400
"$TX" --count $N --seed 3 --out "$T/t.shdw" >/dev/null 2>"$T/txgen.err" || fail "txgen: $(cat "$T/txgen.err")"
"$SHADOWCTL" replay "$T/t.shdw" --current "$cur_url" --candidate "$cand_url" --shadow --max \
  --db "$T/r.db" 2>"$T/replay.err" || fail "replay: $(cat "$T/replay.err")"
# Hostile captured answers: a JSON string field holding markup.
sqlite3 "$T/r.db" "update responses set body = cast('{\"score\":0.97,\"decision\":\"fraud\",\"note\":\"<script>alert(1)</script>\\\"><img src=x onerror=alert(1)>\"}' as blob) where target='candidate' and seq <= 40;
  delete from metrics; delete from diffs; delete from pair_diffs; delete from path_stats; delete from decisions;" \
  || fail "sqlite3 update"
"$SHADOWCTL" report --db "$T/r.db" -o "$T/report.html" 2>"$T/report.err"; st=$?
expect_status 0 $st "report ($(cat "$T/report.err"))"
H=$T/report.html
[ -s "$H" ] || fail "empty report"
grep -qi '<script' "$H" && fail "unescaped <script in the report"
grep -qi '<img' "$H" && fail "unescaped <img in the report"
grep -qiE '(src|href)="?(https?:)?//' "$H" && fail "the report references an external resource"
grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$H" || fail "escaped script payload not shown"
grep -q '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;' "$H" || fail "escaped img payload not shown"
grep -q '<svg' "$H" || fail "no inline chart"
grep -q 'class="verdict v-' "$H" || fail "no verdict section"
for s in facts latency errors decisions fields; do grep -q "id=\"$s\"" "$H" || fail "section $s missing"; done
verdict=$(sed -n 's/.*<h2>Verdict: <strong class="badge">\([a-z ]*\)<.*/\1/p' "$H" | head -1)
[ -n "$verdict" ] || fail "verdict not found in HTML"

# same verdict in JSON, Markdown and JUnit
"$SHADOWCTL" report --db "$T/r.db" -o "$T/report.json" 2>/dev/null || fail "report json"
jv=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"]["verdict"])' "$T/report.json") || fail "invalid JSON report"
[ "$jv" = "$verdict" ] || fail "JSON verdict $jv, HTML $verdict"
"$SHADOWCTL" report --db "$T/r.db" --format markdown -o "$T/report.md" 2>/dev/null || fail "report markdown"
grep -q "verdict: \*\*$verdict\*\*" "$T/report.md" || fail "Markdown verdict differs: $(head -1 "$T/report.md")"
grep -qi '<script' "$T/report.md" && fail "unescaped <script in Markdown"
"$SHADOWCTL" report --db "$T/r.db" --format junit -o "$T/junit.xml" 2>/dev/null || fail "report junit"
if command -v xmllint >/dev/null; then xmllint --noout "$T/junit.xml" || fail "JUnit is not well-formed XML"; fi
grep -q '<testcase' "$T/junit.xml" || fail "no test case in JUnit"
# usage errors
"$SHADOWCTL" report --db "$T/r.db" --format pdf -o "$T/x" 2>/dev/null; expect_status 2 $? "unknown format"
"$SHADOWCTL" report --db "$T/missing.db" -o "$T/x.html" 2>/dev/null; expect_status 2 $? "missing db"
"$SHADOWCTL" report --db "$T/r.db" --run 99 -o "$T/x.html" 2>/dev/null; expect_status 2 $? "missing run"
"$SHADOWCTL" report --db "$T/r.db" -o "$T/no/such/dir/x.html" 2>"$T/nodir.err"; expect_status 1 $? "unwritable output"
grep -q "no/such/dir/x.html" "$T/nodir.err" || fail "output error does not name the file: $(cat "$T/nodir.err")"

# headless Chromium: renders, verdict visible, nothing executed
CH=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CH" ] || { echo "chromium absent: browser part skipped"; exit 77; }
[ "${SC_SANITIZE:-0}" = 1 ] && [ -z "${SC_BROWSER_IN_ASAN:-}" ] && { echo "browser part runs in the normal build only"; pass; }
prof=$(mktemp -d "$T/chrome.XXXXXX")
cflags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
  --disable-sync --no-first-run --user-data-dir="$prof")
timeout 60 "$CH" "${cflags[@]}" --screenshot="$T/report.png" --window-size=1280,2000 "file://$H" \
  >"$T/chrome.out" 2>&1 || fail "chromium screenshot failed: $(tail -3 "$T/chrome.out")"
[ -s "$T/report.png" ] || fail "no screenshot"
timeout 60 "$CH" "${cflags[@]}" --dump-dom "file://$H" >"$T/dom.html" 2>"$T/chrome.err" || fail "chromium dump-dom failed"
grep -q "Verdict: <strong class=\"badge\">$verdict" "$T/dom.html" || fail "verdict not in the rendered DOM"
grep -qi '<script' "$T/dom.html" && fail "a <script> element exists in the rendered DOM"
grep -qi '<img' "$T/dom.html" && fail "an <img> element exists in the rendered DOM"
mkdir -p "$SC_BUILD_DIR/artifacts" && cp "$T/report.png" "$SC_BUILD_DIR/artifacts/6001-report.png" \
  && cp "$H" "$SC_BUILD_DIR/artifacts/6001-report.html"
pass

#!/usr/bin/env bash
# 0002-install: `cmake --install` into a fresh prefix puts the binary, the man
# page, the schemas and the report templates in place; the installed binary
# runs on its own (schemas and templates are compiled in), its man page
# renders with a section per command, and `report --templates DIR` (or
# $SHADOWCTL_TEMPLATES) renders from an edited copy of the installed
# templates, with a broken one reported as FILE:LINE and exit status 2.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"
P=$T/prefix
cmake --install "$SC_BUILD_DIR" --prefix "$P" >"$T/install.out" 2>&1 || fail "cmake --install: $(tail -5 "$T/install.out")"
for f in bin/shadowctl share/man/man1/shadowctl.1 share/shadowctl/schemas/results.sql \
         share/shadowctl/schemas/analysis.sql share/shadowctl/schemas/traffic.md \
         share/shadowctl/schemas/shadow.example.yaml share/shadowctl/schemas/shadow.schema.json \
         share/shadowctl/templates/report.html.tmpl share/shadowctl/templates/style.css \
         share/shadowctl/templates/criteria.html.tmpl share/shadowctl/templates/examples.html.tmpl; do
  [ -s "$P/$f" ] || fail "not installed: $f"
done
[ -x "$P/bin/shadowctl" ] || fail "installed binary is not executable"
"$P/bin/shadowctl" --version | grep -qE '^shadowctl [0-9]+\.[0-9]+' || fail "installed --version: $("$P/bin/shadowctl" --version 2>&1)"

# the man page: every command has a section, every flag of replay is in it
M=$P/share/man/man1/shadowctl.1
head -1 "$M" | grep -q '^\.TH SHADOWCTL 1' || fail "man page has no .TH header"
if command -v man >/dev/null; then
  MANWIDTH=100 man -l "$M" >"$T/man.txt" 2>"$T/man.err" || fail "man -l: $(cat "$T/man.err")"
  for c in capture inspect replay runs analyze labels report gate; do
    grep -qE "^   shadowctl $c$" "$T/man.txt" || fail "man page has no section for '$c'"
  done
  for flag in --current --candidate --secondary --shadow --canary --steps --rate --max --concurrency --timeout --no-analyze; do
    grep -q -- "$flag" "$T/man.txt" || fail "man page does not document replay $flag"
  done
  grep -q "EXIT STATUS" "$T/man.txt" || fail "man page has no EXIT STATUS section"
else
  echo "man (man-db) not installed: rendering of the man page not checked"
fi

# the installed templates are a starting point for a site's own report look
start_model cur --profile v1 --quiet
"$SC_BUILD_DIR/txgen" --count 120 --seed 5 --out "$T/t.shdw" >/dev/null 2>"$T/tx.err" || fail "txgen: $(cat "$T/tx.err")"
"$P/bin/shadowctl" replay "$T/t.shdw" --current "$cur_url" --candidate "$cur_url" --shadow --max --db "$T/r.db" \
  --no-progress 2>"$T/replay.err" || fail "installed replay: $(tail -3 "$T/replay.err")"
cp -r "$P/share/shadowctl/templates" "$T/tpl"
echo '.site-mark{color:#123456}' >>"$T/tpl/style.css"
sed -i 's|<h1>|<h1 class="site-mark">|' "$T/tpl/report.html.tmpl"
"$P/bin/shadowctl" report --db "$T/r.db" --templates "$T/tpl" -o "$T/site.html" 2>"$T/rep.err" \
  || fail "report --templates: $(cat "$T/rep.err")"
grep -q 'color:#123456' "$T/site.html" || fail "edited style.css not used"
grep -q 'class="site-mark"' "$T/site.html" || fail "edited report.html.tmpl not used"
SHADOWCTL_TEMPLATES=$T/tpl "$P/bin/shadowctl" report --db "$T/r.db" -o "$T/env.html" 2>/dev/null || fail "report with SHADOWCTL_TEMPLATES"
grep -q 'color:#123456' "$T/env.html" || fail "SHADOWCTL_TEMPLATES not used"
"$P/bin/shadowctl" report --db "$T/r.db" -o "$T/builtin.html" 2>/dev/null || fail "report with built-in templates"
grep -q 'color:#123456' "$T/builtin.html" && fail "built-in report picked up the edited copy"
printf '<h1>{{#facts</h1>\n' >"$T/tpl/report.html.tmpl"
"$P/bin/shadowctl" report --db "$T/r.db" --templates "$T/tpl" -o "$T/bad.html" 2>"$T/bad.err"
expect_status 2 $? "broken template"
grep -q "tpl/report.html.tmpl:1" "$T/bad.err" || fail "broken template not named FILE:LINE: $(cat "$T/bad.err")"
"$P/bin/shadowctl" report --db "$T/r.db" --templates "$T/nowhere" -o "$T/x.html" 2>"$T/nodir.err"
expect_status 2 $? "missing template directory"
grep -q "nowhere" "$T/nodir.err" || fail "missing template directory not named: $(cat "$T/nodir.err")"
pass

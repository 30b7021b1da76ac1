#!/usr/bin/env bash
# 0001-cli-frame: the command table, global flags, help and exit statuses.
set -u
. "$SC_SOURCE_DIR/tests/e2e/lib.sh"

out=$("$SHADOWCTL" --help); st=$?
expect_status 0 $st "--help"
for c in capture inspect replay runs analyze labels report gate; do
  grep -qE "^   $c " <<<"$out" || fail "--help does not list '$c'"
  h=$("$SHADOWCTL" help "$c"); st=$?
  expect_status 0 $st "help $c"
  grep -q "^usage: shadowctl $c" <<<"$h" || fail "help $c has no usage line"
  grep -q -- "--help" <<<"$h" || fail "help $c does not list --help"
  h2=$("$SHADOWCTL" "$c" --help); st=$?
  expect_status 0 $st "$c --help"
  [ "$h" = "$h2" ] || fail "'help $c' and '$c --help' differ"
done

"$SHADOWCTL" --version | grep -qE '^shadowctl [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version format"

err=$("$SHADOWCTL" frobnicate 2>&1 >/dev/null); st=$?
expect_status 2 $st "unknown command"
[ "$(wc -l <<<"$err")" -eq 1 ] || fail "unknown command should print one line, got: $err"
grep -q "'frobnicate' is not a shadowctl command" <<<"$err" || fail "unknown command message: $err"

"$SHADOWCTL" >/dev/null 2>&1; expect_status 2 $? "no command"
"$SHADOWCTL" --bogus >/dev/null 2>&1; expect_status 2 $? "unknown global option"
err=$("$SHADOWCTL" inspect --no-such-flag 2>&1 >/dev/null); st=$?
expect_status 2 $st "unknown command option"
grep -q "unknown option '--no-such-flag'" <<<"$err" || fail "unknown option message: $err"

man=$("$SHADOWCTL" man); st=$?
expect_status 0 $st "man"
grep -q '^\.TH SHADOWCTL 1' <<<"$man" || fail "man page header"
for c in capture replay gate; do grep -q "^\.SS \"shadowctl $c\"" <<<"$man" || fail "man lacks $c"; done
pass

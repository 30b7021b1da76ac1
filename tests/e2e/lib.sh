# lib.sh - helpers for end-to-end tests (sourced). Every test:
#   - uses $SHADOWCTL, $SC_BUILD_DIR, $SC_SOURCE_DIR, $SC_SHARED_DIR from ctest;
#   - works in its own temp dir ($T), removed at exit;
#   - starts processes with start_bg and has them stopped by pid at exit;
#   - bounds every wait (wait_for ... SECONDS).
: "${SHADOWCTL:?run through ctest}"
: "${SC_BUILD_DIR:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/sc-e2e.XXXXXX")
SC_PIDS=()
cleanup() {
  local p
  for p in "${SC_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${SC_PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT
export SHADOWCTL_NO_TTY=1

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
pass() { echo "PASS: $(basename "$0")"; exit 0; }
expect_status() { # expected actual what
  [ "$1" = "$2" ] || fail "$3: expected exit status $1, got $2"
}

# start_bg NAME CMD... : starts CMD in the background with stdout to $T/NAME.out
# and stderr to $T/NAME.err; its pid goes to $NAME_pid (via the array) and is
# stopped at exit.
start_bg() {
  local name=$1; shift
  "$@" >"$T/$name.out" 2>"$T/$name.err" &
  local pid=$!
  SC_PIDS+=("$pid")
  eval "${name}_pid=$pid"
}

# wait_for SECONDS CMD... : polls CMD every 0.1 s until it succeeds or time is up.
wait_for() {
  local secs=$1; shift
  local n=$((secs * 10))
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# start_model NAME ARGS... : starts the fixture model server on an ephemeral
# port; sets ${NAME}_port and ${NAME}_url.
start_model() {
  local name=$1; shift
  [ -x "$SC_BUILD_DIR/model_server" ] || skip "model_server fixture not built"
  start_bg "$name" "$SC_BUILD_DIR/model_server" --port 0 "$@"
  wait_for 10 grep -q "^listening on" "$T/$name.out" || fail "$name did not start: $(cat "$T/$name.err")"
  local port
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/$name.out" | head -1)
  eval "${name}_port=$port"
  eval "${name}_url=http://127.0.0.1:$port"
}

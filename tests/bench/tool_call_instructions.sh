#!/usr/bin/env bash
# Instructions the server runs per MCP tool call, counted by callgrind (repeatable on a busy
# machine): `mapsrv serve` under valgrind, N draws from tests/bench/draw_calls.py, for two N; the
# difference divided by the difference in calls leaves start-up out. With `page` as the third
# argument, N page writes (POST /m/<id>/ops) from tests/bench/page_write_calls.py instead; with
# `read`, N stateless (2026-07-28) reads of a small map from tests/bench/read_calls.py.
# Run from a checkout:
#   tests/bench/tool_call_instructions.sh [50] [250] [draw|page|read]
# Environment:
#   BENCH_HEALTH_WAIT  seconds to wait for the server under valgrind to say on /ready that its
#                      places are warm (default 300); a server that does not in time fails the
#                      run (exit 1) rather than being counted. Raise it on a loaded machine.
#   (Not MAPSRV_*: the server refuses MAPSRV_* variables it does not know.)
set -euo pipefail
cd "$(dirname "$0")/../.."
few=${1:-50}; many=${2:-250}; calls=${3:-draw}
case $calls in
  draw) driver=tests/bench/draw_calls.py ;;
  page) driver=tests/bench/page_write_calls.py ;;
  read) driver=tests/bench/read_calls.py ;;
  *) echo "the third argument is draw, page or read, got '$calls'" >&2; exit 2 ;;
esac
health_wait=${BENCH_HEALTH_WAIT:-300}
[[ $health_wait =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_HEALTH_WAIT must be a whole number of seconds, got '$health_wait'" >&2; exit 2; }
out=$(mktemp -d)
fail() {  # runs inside count's subshell: the caller's `a=$(count ...)` then stops the script
  echo "tool_call_instructions.sh: $1 (server log: $out/log.$2)" >&2
  exit 1
}
count() {
  local port pid refs
  port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PYTHONPATH=$PWD valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" \
    python -m mapsrv serve --port "$port" --rate-mcp 0 --rate-writes 0 --rate-writes-person 0 --rate-maps 0 >"$out/log.$1" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + health_wait))
  # ready, and its places warm: they load in the background at start (in workers, 1-2 s of CPU,
  # far more under valgrind), so both runs count the same load only once /ready says they are
  until curl -s "http://127.0.0.1:$port/ready" | grep -q '"places":"warm"'; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" || true
      fail "the server under valgrind exited before it was ready" "$1"
    fi
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" || true
      fail "the server under valgrind was not ready with its places warm within ${health_wait} s (set BENCH_HEALTH_WAIT)" "$1"
    fi
    sleep 0.5
  done
  if ! PYTHONPATH=$PWD python "$driver" "http://127.0.0.1:$port/mcp" "$1" >&2; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" || true
    fail "$driver failed against the server" "$1"
  fi
  kill -INT "$pid"
  wait "$pid" || true
  refs=$(sed -n 's/.*I *refs: *//p' "$out/log.$1" | tr -d ,)
  [[ $refs =~ ^[0-9]+$ ]] || fail "no instruction count in callgrind's output" "$1"
  echo "$refs"
}
a=$(count "$few")
b=$(count "$many")
((b > a)) || { echo "tool_call_instructions.sh: $many calls counted $b instructions, not more than $few calls' $a (logs: $out)" >&2; exit 1; }
case $calls in draw) what=tool ;; read) what="stateless read" ;; *) what=$calls ;; esac
echo "instructions per $what call: $(( (b - a) / (many - few) ))"
rm -r "$out"

#!/usr/bin/env bash
# Instructions the server runs per MCP tool call, counted by callgrind (repeatable on a busy
# machine): `mapsrv serve` under valgrind, N draws from tests/bench/draw_calls.py, for two N; the
# difference divided by the difference in calls leaves start-up out. Run from a checkout:
#   tests/bench/tool_call_instructions.sh [50] [250]
set -euo pipefail
cd "$(dirname "$0")/../.."
few=${1:-50}; many=${2:-250}
out=$(mktemp -d)
count() {
  local port
  port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PYTHONPATH=$PWD valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" \
    python -m mapsrv serve --port "$port" --rate-mcp 0 >"$out/log.$1" 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break
    sleep 0.5
  done
  PYTHONPATH=$PWD python tests/bench/draw_calls.py "http://127.0.0.1:$port/mcp" "$1"
  kill -INT "$pid"
  wait "$pid" || true
  sed -n 's/.*I *refs: *//p' "$out/log.$1" | tr -d ,
}
a=$(count "$few")
b=$(count "$many")
echo "instructions per tool call: $(( (b - a) / (many - few) ))"
rm -r "$out"

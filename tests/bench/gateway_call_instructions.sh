#!/usr/bin/env bash
# Instructions the gateway runs per call, counted by callgrind (repeatable on a busy machine):
# `mapsrv gateway` in front of tests/gateway/fixtures/raw_echo.py under valgrind, N raw keep-alive
# calls (tests/bench/gateway.py's raw_calls), for two N; the difference divided by the difference
# in calls leaves start-up out. SRC is the mapsrv tree to count (another checkout: before/after).
#   tests/bench/gateway_call_instructions.sh [SRC] [100] [600]     (VALGRIND= : a dry run without it)
# valgrind does not know pidfd_open, so the gateway's exit waiters poll (once a second), and its
# reaper's /proc scan (once a second) is turned off: both would count wall time, not calls.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$(cd "${1:-.}" && pwd); few=${2:-100}; many=${3:-600}
out=$(mktemp -d)
cat >"$out/main.py" <<'PY'
import sys
import trio
import mapsrv.gateway.runner as runner
async def wait_exit(self):
    while self.process.poll() is None:
        await trio.sleep(1)
    self.returncode = self.process.returncode
    self.reason = self.reason or (runner.ExitReason.EXITED if self.returncode == 0 else runner.ExitReason.CRASHED)
    self.exited.set()
runner.Child._wait_exit = wait_exit
runner.REAP_INTERVAL = 1e6
from mapsrv.cli import main
sys.exit(main(sys.argv[1:]))
PY
cat >"$out/client.py" <<'PY'
import sys
import httpx
import trio
from tests.bench.gateway import open_session, raw_calls
async def main(url, pid, n):
    async with httpx.AsyncClient(timeout=600) as http:
        sid = await open_session(http, url)
    await raw_calls(url, sid, n, pid)
trio.run(main, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
PY
count() {
  local port pid
  port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PYTHONPATH=$src ${VALGRIND-valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1"} \
    python "$out/main.py" gateway --port "$port" --warm 1 --log-level error -- \
    python -I tests/gateway/fixtures/raw_echo.py >"$out/log.$1" 2>&1 &
  pid=$!
  for _ in $(seq 1 2400); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break
    sleep 0.5
  done
  PYTHONPATH=$PWD:$PWD/tests python "$out/client.py" "http://127.0.0.1:$port/mcp" "$pid" "$1"
  kill -INT "$pid"
  wait "$pid" || true
  sed -n 's/.*I *refs: *//p' "$out/log.$1" | tr -d ,
}
a=$(count "$few")
b=$(count "$many")
echo "gateway instructions per call: $(( (b - a) / (many - few) ))"
rm -r "$out"

#!/usr/bin/env bash
# Instructions one MapHub.apply of one marker costs, in process with the memory store, counted by
# callgrind: N writes and M writes, the difference divided by M - N leaves start-up out. Run from
# a checkout:
#   tests/bench/apply_instructions.sh [200] [1200]
set -euo pipefail
cd "$(dirname "$0")/../.."
few=${1:-200}; many=${2:-1200}
python=${PYTHON:-python}
out=$(mktemp -d)
count() {
  PYTHONPATH=$PWD valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" \
    "$python" -m tests.bench.apply_calls "$1" >"$out/log.$1" 2>&1
  sed -n 's/.*I *refs: *//p' "$out/log.$1" | tr -d ,
}
a=$(count "$few")
b=$(count "$many")
echo "instructions per apply: $(( (b - a) / (many - few) ))"
rm -r "$out"

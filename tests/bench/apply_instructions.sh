#!/usr/bin/env bash
# Instructions one MapHub.apply of one marker costs, in process with the memory store, counted by
# callgrind: N writes and M writes, the difference divided by M - N leaves start-up out. Run from
# a checkout:
#   tests/bench/apply_instructions.sh [200] [1200]
# Environment: PYTHON, the interpreter to run (default `python`). A run that fails, or whose
# callgrind output has no count, stops the script (exit 1) rather than being counted.
set -euo pipefail
cd "$(dirname "$0")/../.."
few=${1:-200}; many=${2:-1200}
python=${PYTHON:-python}
out=$(mktemp -d)
fail() {  # runs inside count's subshell: the caller's `a=$(count ...)` then stops the script
  echo "apply_instructions.sh: $1 (log: $out/log.$2)" >&2
  exit 1
}
count() {
  local refs
  PYTHONPATH=$PWD valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" \
    "$python" -m tests.bench.apply_calls "$1" >"$out/log.$1" 2>&1 || fail "$1 writes under valgrind failed" "$1"
  refs=$(sed -n 's/.*I *refs: *//p' "$out/log.$1" | tr -d ,)
  [[ $refs =~ ^[0-9]+$ ]] || fail "no instruction count in callgrind's output" "$1"
  echo "$refs"
}
a=$(count "$few")
b=$(count "$many")
((b > a)) || { echo "apply_instructions.sh: $many writes counted $b instructions, not more than $few writes' $a (logs: $out)" >&2; exit 1; }
echo "instructions per apply: $(( (b - a) / (many - few) ))"
rm -r "$out"

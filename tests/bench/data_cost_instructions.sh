#!/usr/bin/env bash
# Instructions one of tests/bench/data_cost.py's cases costs (issue 57), counted by valgrind
# (cachegrind, no cache simulation): the case run RUNS times and 0 times, the difference divided
# by RUNS leaves start-up out. Counts do not move with the machine's load, as times do.
#   tests/bench/data_cost_instructions.sh CASE [RUNS] [TREE]
# TREE: a checkout whose mapsrv is measured (default this one), e.g. a worktree of the commit
# before issue 57: git worktree add /tmp/before 2ef7dab. PYTHON: the interpreter (default python).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
case=${1:?a case: read, call, shapes or labels}; runs=${2:-2}; tree=${3:-$here}
python=${PYTHON:-python}
count() {
  local refs
  refs=$(PYTHONPATH="$tree" valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    "$python" "$here/tests/bench/data_cost.py" "$case" "$1" 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d ,)
  [[ $refs =~ ^[0-9]+$ ]] || { echo "data_cost_instructions.sh: no count for $case $1" >&2; exit 1; }
  echo "$refs"
}
a=$(count 0)
b=$(count "$runs")
echo "$case in $tree: $(( (b - a) / runs / 1000000 )) M instructions a run"

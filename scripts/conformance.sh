#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm package @modelcontextprotocol/conformance) against
# a fresh `mapsrv serve` (`scripts/conformance.sh`, or `serve`), or against `mapsrv gateway` in
# front of `mapsrv stdio` (`scripts/conformance.sh gateway`: the gateway must not be what makes a
# scenario fail): every server scenario that applies, at each protocol revision it applies to. The
# list, and the reason each other scenario does not apply, is tests/conformance/scenarios.txt
# (tests/gateway/conformance-scenarios.txt for the gateway); single excused checks are
# expected-failures.yml beside it (conformance-expected-failures.yml for the gateway).
#
# The suite needs Node >= 22, so Node (the `node` package from the npm registry, which ships the
# binary) and the suite are installed with npm into $CONFORMANCE_HOME (default
# .tox/conformance-node, git-ignored), once, and reused while the pinned versions match.
# Per-scenario output and the suite's checks.json land in artifacts/conformance/ (or
# artifacts/gateway-conformance/).
#
# Exit status: 0 when every applicable scenario passes, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE_VERSION=0.2.0-alpha.12   # tested; bump deliberately and re-triage scenarios.txt
NODE_VERSION=22.23.3

home=${CONFORMANCE_HOME:-.tox/conformance-node}
mkdir -p "$home"
home=$(cd "$home" && pwd)
node="$home/node_modules/.bin/node"
suite_pkg="$home/node_modules/@modelcontextprotocol/conformance"
suite="$suite_pkg/dist/index.js"
target=${1:-serve}
case "$target" in
    serve)
        list_file=tests/conformance/scenarios.txt
        baseline=$PWD/tests/conformance/expected-failures.yml
        out=$PWD/artifacts/conformance ;;
    gateway)
        list_file=tests/gateway/conformance-scenarios.txt
        baseline=$PWD/tests/gateway/conformance-expected-failures.yml
        out=$PWD/artifacts/gateway-conformance ;;
    *) echo "usage: scripts/conformance.sh [serve|gateway]" >&2; exit 2 ;;
esac
python=${PYTHON:-python3}
command -v "$python" >/dev/null || python=python

installed() {
    [ -x "$node" ] && [ -f "$suite" ] || return 1
    [ "$("$node" --version 2>/dev/null)" = "v$NODE_VERSION" ] || return 1
    [ "$("$node" -p "require('$suite_pkg/package.json').version" 2>/dev/null)" = "$SUITE_VERSION" ]
}

if ! installed; then
    command -v npm >/dev/null || { echo "conformance: npm is needed to install Node $NODE_VERSION and the suite" >&2; exit 1; }
    echo "conformance: installing node@$NODE_VERSION and @modelcontextprotocol/conformance@$SUITE_VERSION into $home"
    if ! npm install --prefix "$home" --no-audit --no-fund --loglevel=error \
        "node@$NODE_VERSION" "@modelcontextprotocol/conformance@$SUITE_VERSION" >"$home/npm-install.log" 2>&1; then
        cat "$home/npm-install.log" >&2
        exit 1
    fi
    installed || { echo "conformance: the install did not produce node v$NODE_VERSION + suite $SUITE_VERSION" >&2; exit 1; }
fi

# --- the scenario list, and a check that it accounts for every server scenario of the suite ---
run_rev=() run_sc=() na=()
while read -r kind a b _; do
    case "$kind" in
        '' | '#'*) ;;
        run) run_rev+=("$a") run_sc+=("$b") ;;
        n/a) na+=("$a") ;;
        *) echo "conformance: $list_file: bad line starting '$kind'" >&2; exit 1 ;;
    esac
done <"$list_file"

untriaged=()
while read -r name; do
    known=0
    for s in "${run_sc[@]}" "${na[@]}"; do [ "$s" = "$name" ] && known=1 && break; done
    [ $known -eq 1 ] || untriaged+=("$name")
done < <("$node" "$suite" list --server | sed -n 's/^ *- \([^ ]*\).*/\1/p')

# --- the server under test, on a free port, with none of the caller's MAPSRV_* settings ---
for v in $(compgen -e | grep '^MAPSRV_' || true); do unset "$v"; done
rm -rf "$out"
mkdir -p "$out"
log="$out/server.log"
if [ "$target" = serve ]; then
    # the default store (SQLite), in a file of this run's own
    "$python" -m mapsrv serve --host 127.0.0.1 --port 0 --graceful-timeout 2 --log-level warning \
        --store "sqlite://$out/maps.db" 2>"$log" &
    started='s|.*open \(http://127\.0\.0\.1:[0-9]*\)/.*|\1|p'
else
    "$python" -m mapsrv gateway --port 0 --log-level warning --graceful-timeout 2 --kill-grace 2 \
        --child-env "PATH,HOME,LANG,LC_*,TZ,TMPDIR,VIRTUAL_ENV,PYTHONPATH" \
        -- "$python" -m mapsrv stdio --port 0 --log-level warning --store memory:// 2>"$log" &
    started='s|.*gateway on \(http://[^ ]*\).*|\1|p'
fi
pid=$!
stop_server() {
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
trap stop_server EXIT
trap 'exit 130' INT TERM

base=
for _ in $(seq 300); do
    base=$(sed -n "$started" "$log" | head -n1)
    [ -n "$base" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$base" ]; then
    echo "conformance: the $target server did not start:" >&2
    cat "$log" >&2
    exit 1
fi
"$python" - "$base/health" <<'EOF' || { cat "$log" >&2; exit 1; }
import sys, time, urllib.request
for _ in range(100):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit("conformance: the server never answered " + sys.argv[1])
EOF
url="$base/mcp"
echo "conformance: suite $SUITE_VERSION on node $("$node" --version), $target at $url"

# --- the applicable scenarios, each at its revision ---
passed=0 failed=0 failures=()
for i in "${!run_sc[@]}"; do
    rev=${run_rev[$i]} sc=${run_sc[$i]}
    dir="$out/$rev/$sc"
    mkdir -p "$dir"
    rc=0
    "$node" "$suite" server --url "$url" --scenario "$sc" --spec-version "$rev" \
        --expected-failures "$baseline" --timeout 30000 -o "$dir" >"$dir/output.txt" 2>&1 || rc=$?
    checks=$(find "$dir" -name checks.json | head -n1)
    ok=0
    [ -z "$checks" ] || ok=$(grep -c '"status": "SUCCESS"' "$checks" || true)
    if grep -q '^SKIPPED:' "$dir/output.txt"; then
        why="the suite skipped it: $(grep '^SKIPPED:' "$dir/output.txt")"
    elif [ "$rc" -ne 0 ]; then
        why="exit $rc"
    elif [ "$ok" -eq 0 ]; then
        why="no passing check recorded"
    else
        why=
    fi
    if [ -z "$why" ]; then
        passed=$((passed + 1))
        printf 'PASS  %-10s %-44s %3d checks passed\n' "$rev" "$sc" "$ok"
    else
        failed=$((failed + 1))
        failures+=("$rev $sc")
        printf 'FAIL  %-10s %-44s %s\n' "$rev" "$sc" "$why"
        sed 's/\x1b\[[0-9;]*m//g; s/^/      | /' "$dir/output.txt"
    fi
done

echo "not applicable (see $list_file): ${#na[@]} scenarios"
status=0
if [ ${#untriaged[@]} -gt 0 ]; then
    echo "conformance: the suite has server scenarios that $list_file does not mention: ${untriaged[*]}" >&2
    echo "conformance: add each as 'run <revision> <name>' or 'n/a <name> <reason>'" >&2
    failed=$((failed + ${#untriaged[@]}))
    status=1
fi
if [ "$failed" -gt 0 ]; then
    status=1
    [ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
    echo "server log: $log; per-scenario output: $out/<revision>/<scenario>/"
fi
echo "conformance ($target): $passed passed, $failed failed, ${#na[@]} skipped"
exit $status

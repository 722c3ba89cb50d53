#!/usr/bin/env bash
# Runs the official MCP conformance suite's server scenarios against `mapsrv gateway` in front of
# `mapsrv stdio` (mapsrv's own stdio MCP server, a child per session, stateless requests on a
# shared child): the gateway must not be what makes a scenario fail. The scenarios that apply,
# and why the others do not, are tests/gateway/conformance-scenarios.txt (the format of
# tests/conformance/scenarios.txt); single excused checks are
# tests/gateway/conformance-expected-failures.yml.
#
# Node 22 and the suite, at the versions scripts/conformance.sh pins, are installed by that
# script's rules into $CONFORMANCE_HOME (default .tox/conformance-node), once, and reused.
# Per-scenario output lands in artifacts/gateway-conformance/.
#
# Exit status: 0 when every applicable scenario passes, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

pin() { sed -n "s/^$1=\([^ ]*\).*/\1/p" scripts/conformance.sh; }
SUITE_VERSION=$(pin SUITE_VERSION)
NODE_VERSION=$(pin NODE_VERSION)

home=${CONFORMANCE_HOME:-.tox/conformance-node}
mkdir -p "$home"
home=$(cd "$home" && pwd)
node="$home/node_modules/.bin/node"
suite_pkg="$home/node_modules/@modelcontextprotocol/conformance"
suite="$suite_pkg/dist/index.js"
list_file=tests/gateway/conformance-scenarios.txt
baseline=$PWD/tests/gateway/conformance-expected-failures.yml
out=$PWD/artifacts/gateway-conformance
python=${PYTHON:-python3}
command -v "$python" >/dev/null || python=python

installed() {
    [ -x "$node" ] && [ -f "$suite" ] || return 1
    [ "$("$node" --version 2>/dev/null)" = "v$NODE_VERSION" ] || return 1
    [ "$("$node" -p "require('$suite_pkg/package.json').version" 2>/dev/null)" = "$SUITE_VERSION" ]
}
if ! installed; then
    command -v npm >/dev/null || { echo "gateway-conformance: npm is needed" >&2; exit 1; }
    echo "gateway-conformance: installing node@$NODE_VERSION and the suite $SUITE_VERSION into $home"
    npm install --prefix "$home" --no-audit --no-fund --loglevel=error \
        "node@$NODE_VERSION" "@modelcontextprotocol/conformance@$SUITE_VERSION" >"$home/npm-install.log" 2>&1 \
        || { cat "$home/npm-install.log" >&2; exit 1; }
    installed || { echo "gateway-conformance: the install did not produce what was pinned" >&2; exit 1; }
fi

run_rev=() run_sc=() na=()
while read -r kind a b _; do
    case "$kind" in
        '' | '#'*) ;;
        run) run_rev+=("$a") run_sc+=("$b") ;;
        n/a) na+=("$a") ;;
        *) echo "gateway-conformance: $list_file: bad line starting '$kind'" >&2; exit 1 ;;
    esac
done <"$list_file"
untriaged=()
while read -r name; do
    known=0
    for s in "${run_sc[@]}" "${na[@]}"; do [ "$s" = "$name" ] && known=1 && break; done
    [ $known -eq 1 ] || untriaged+=("$name")
done < <("$node" "$suite" list --server | sed -n 's/^ *- \([^ ]*\).*/\1/p')

# --- the gateway, on a free port, with none of the caller's MAPSRV_* settings ---
for v in $(compgen -e | grep '^MAPSRV_' || true); do unset "$v"; done
rm -rf "$out"
mkdir -p "$out"
"$python" -m mapsrv gateway --port 0 --log-level warning --graceful-timeout 2 --kill-grace 2 \
    --child-env "PATH,HOME,LANG,LC_*,TZ,TMPDIR,VIRTUAL_ENV,PYTHONPATH" \
    -- "$python" -m mapsrv stdio --port 0 --log-level warning 2>"$out/gateway.log" &
pid=$!
stop_gateway() {
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
trap stop_gateway EXIT
trap 'exit 130' INT TERM

url=
for _ in $(seq 300); do
    url=$(sed -n 's|.*gateway on \(http://[^ ]*\).*|\1|p' "$out/gateway.log" | head -n1)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$url" ] || { echo "gateway-conformance: the gateway did not start:" >&2; cat "$out/gateway.log" >&2; exit 1; }
url="$url/mcp"
echo "gateway-conformance: suite $SUITE_VERSION on node $("$node" --version), gateway at $url in front of mapsrv stdio"

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
    why=
    if grep -q '^SKIPPED:' "$dir/output.txt"; then why="the suite skipped it"
    elif [ "$rc" -ne 0 ]; then why="exit $rc"
    elif [ "$ok" -eq 0 ]; then why="no passing check recorded"
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
    echo "gateway-conformance: scenarios $list_file does not mention: ${untriaged[*]}" >&2
    failed=$((failed + ${#untriaged[@]}))
fi
[ "$failed" -eq 0 ] || status=1
[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
echo "gateway-conformance: $passed passed, $failed failed, ${#na[@]} skipped"
exit $status

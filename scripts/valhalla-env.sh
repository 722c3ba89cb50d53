#!/usr/bin/env bash
# Installs the Valhalla routing engine the routing tests drive (tests/support/valhalla.py): PyPI's
# pyvalhalla, whose wheel ships the `valhalla_build_tiles` and `valhalla_service` binaries, and
# pyosmium (`osmium`), which writes the test street network (tests/support/valhalla_network.py).
# pyvalhalla has wheels for CPython 3.12 but none for the 3.11 mapsrv runs on, so both go into a
# Python 3.12 venv of their own at $VALHALLA_HOME (default .tox/valhalla, git-ignored), pinned,
# once; reused while the pinned versions match. tox's tests and bench envs run it first and
# point VALHALLA_HOME at the same directory.
set -euo pipefail
cd "$(dirname "$0")/.."

PYVALHALLA_VERSION=3.9.1   # Valhalla 3.9.1 (its /status says so): the error bodies tests/routing records
OSMIUM_VERSION=4.3.2       # pyosmium

home=${VALHALLA_HOME:-.tox/valhalla}
mkdir -p "$home"
home=$(cd "$home" && pwd)
python="$home/bin/python"

python312() {
    if command -v python3.12 >/dev/null && python3.12 -c 'import venv' 2>/dev/null; then
        command -v python3.12
        return
    fi
    if command -v pyenv >/dev/null; then
        local candidate
        for candidate in "$(pyenv root)"/versions/3.12*/bin/python3.12; do
            [ -x "$candidate" ] && { echo "$candidate"; return; }
        done
    fi
    return 1
}

installed() {
    [ -x "$python" ] || return 1
    [ "$("$python" -c 'import sys; print(sys.version_info[:2] == (3, 12))' 2>/dev/null)" = True ] || return 1
    "$python" - "$PYVALHALLA_VERSION" "$OSMIUM_VERSION" <<'EOF' 2>/dev/null || return 1
import sys
from importlib.metadata import version
assert version("pyvalhalla") == sys.argv[1] and version("osmium") == sys.argv[2]
EOF
    local bin
    bin=$("$python" -m valhalla print_bin_path 2>/dev/null) || return 1
    [ -x "$bin/valhalla_build_tiles" ] && [ -x "$bin/valhalla_service" ]
}

if ! installed; then
    base=$(python312) || {
        echo "valhalla-env: Python 3.12 is needed (pyvalhalla has no wheel for other versions); none on PATH or under pyenv" >&2
        exit 1
    }
    echo "valhalla-env: installing pyvalhalla==$PYVALHALLA_VERSION, osmium==$OSMIUM_VERSION with $base into $home"
    "$base" -m venv --clear "$home"
    if ! "$python" -m pip install --quiet --only-binary=:all: \
        "pyvalhalla==$PYVALHALLA_VERSION" "osmium==$OSMIUM_VERSION" >"$home/pip-install.log" 2>&1; then
        cat "$home/pip-install.log" >&2
        exit 1
    fi
    installed || { echo "valhalla-env: the install did not produce what is pinned" >&2; exit 1; }
fi
echo "valhalla-env: pyvalhalla $PYVALHALLA_VERSION, osmium $OSMIUM_VERSION, binaries in $("$python" -m valhalla print_bin_path) ($home)"

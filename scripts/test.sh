#!/usr/bin/env bash
# The one command that runs mapsrv's whole test suite on a fresh machine: it installs the system
# packages the tests drive (redis-server, Debian's chromium, nginx, promtool, npm, MapServer, Noto Color Emoji) when they are missing,
# then tox: lint, types, tests and the MCP conformance suite. Extra arguments go to tox, e.g. `scripts/test.sh -e tests -- -k hub`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v nginx >/dev/null || need+=(nginx-light)
command -v promtool >/dev/null || need+=(prometheus)  # promtool checks /metrics
command -v npm >/dev/null || need+=(npm)  # the MCP conformance suite (it fetches its own Node 22)
[ -x /usr/lib/cgi-bin/mapserv ] || need+=(cgi-mapserver)  # a real WMS for add_layer (tests/support/mapserver.py)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)  # map_image's emoji symbols
if [ ${#need[@]} -gt 0 ]; then
    echo "installing system packages: ${need[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# Everything the tests drive is installed above (kubectl comes with the tox env), so nothing may
# skip: CI mode turns a missing dependency into a failure (README, "Run the tests").
export CI="${CI:-true}"

python3 -m tox --version >/dev/null 2>&1 || python3 -m pip install --quiet 'tox>=4'
exec python3 -m tox "$@"

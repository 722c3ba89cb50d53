#!/usr/bin/env bash
# Installs the Nominatim geocoder the geocoder tests drive (tests/support/nominatim.py): PyPI's
# nominatim-db (`nominatim import`, `nominatim serve`) and nominatim-api (the search frontend),
# with Falcon and uvicorn, which `nominatim serve` runs it on, into a venv of its own at
# $NOMINATIM_HOME (default .tox/nominatim, git-ignored), pinned, once; reused while the pinned
# versions match. Nominatim also needs PostgreSQL with PostGIS and the osm2pgsql binary (Debian's
# postgresql-15-postgis-3 and osm2pgsql), installed here when missing, and pyicu, built against
# Debian's libicu-dev. The tests import into a database of their own on the local PostgreSQL
# (127.0.0.1:5432, user postgres, trust auth, as the project's machines run it), started here when
# it is installed but stopped. tox's tests env runs it first and points NOMINATIM_HOME at the
# same directory.
set -euo pipefail
cd "$(dirname "$0")/.."

NOMINATIM_VERSION=5.3.3   # nominatim-db and nominatim-api (they are released together)
FALCON_VERSION=4.4.0
UVICORN_VERSION=0.54.0
PYICU_VERSION=2.17

home=${NOMINATIM_HOME:-.tox/nominatim}
mkdir -p "$home"
home=$(cd "$home" && pwd)
python="$home/bin/python"

fail() {
    echo "nominatim-env: $*" >&2
    exit 1
}

# the system packages: PostGIS for PostgreSQL 15, osm2pgsql (>= 1.8), ICU's headers for pyicu
need=()
command -v osm2pgsql >/dev/null || need+=(osm2pgsql)
[ -d /usr/share/postgresql/15/extension ] && ls /usr/share/postgresql/15/extension/postgis--*.sql >/dev/null 2>&1 \
    || need+=(postgresql-15-postgis-3)
command -v psql >/dev/null || need+=(postgresql-client)
command -v icu-config >/dev/null || pkg-config --exists icu-uc 2>/dev/null || need+=(libicu-dev pkg-config)
if [ ${#need[@]} -gt 0 ]; then
    echo "nominatim-env: installing system packages: ${need[*]}"
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || fail "${need[*]} are missing, and installing them needs root or sudo"
        sudo_cmd=(sudo)
    fi
    "${sudo_cmd[@]}" apt-get update -qq || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" \
        || fail "apt-get could not install ${need[*]}"
fi

# the server the tests import into: reachable as postgres over TCP without a password
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
    if [ -n "$version" ]; then
        echo "nominatim-env: starting PostgreSQL $version"
        sudo_cmd=()
        [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
        "${sudo_cmd[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    fi
fi
psql -h 127.0.0.1 -p 5432 -U postgres -w -tAc 'select 1' >/dev/null 2>&1 \
    || fail "PostgreSQL does not accept user postgres on 127.0.0.1:5432 without a password (trust auth); the geocoder tests import into a database of their own there"

installed() {
    [ -x "$python" ] && [ -x "$home/bin/nominatim" ] || return 1
    "$python" - "$NOMINATIM_VERSION" "$FALCON_VERSION" "$UVICORN_VERSION" <<'EOF' 2>/dev/null || return 1
import sys
from importlib.metadata import version
nominatim, falcon, uvicorn = sys.argv[1:]
assert version("nominatim-db") == nominatim and version("nominatim-api") == nominatim
assert version("falcon") == falcon and version("uvicorn") == uvicorn
import icu, nominatim_api, nominatim_db  # noqa: F401  (pyicu built and loadable)
EOF
}

if ! installed; then
    base=$(command -v python3) || fail "python3 is needed"
    echo "nominatim-env: installing nominatim-db and nominatim-api $NOMINATIM_VERSION with $base into $home"
    "$base" -m venv --clear "$home" || fail "could not make a venv at $home"
    # pyicu has no wheels: it builds against the system's ICU (libicu-dev), a minute or so
    if ! "$python" -m pip install --quiet \
        "nominatim-db==$NOMINATIM_VERSION" "nominatim-api==$NOMINATIM_VERSION" "pyicu==$PYICU_VERSION" \
        "falcon==$FALCON_VERSION" "uvicorn==$UVICORN_VERSION" >"$home/pip-install.log" 2>&1; then
        cat "$home/pip-install.log" >&2
        fail "pip could not install Nominatim (the log is above and in $home/pip-install.log)"
    fi
    installed || fail "the install did not produce what is pinned (see $home/pip-install.log)"
fi
echo "nominatim-env: $("$home/bin/nominatim" --version 2>/dev/null | tail -n1), $(osm2pgsql --version 2>&1 | grep -o 'osm2pgsql version [0-9.]*'), $(psql -h 127.0.0.1 -U postgres -w -tAc 'show server_version' | cut -d' ' -f1) ($home)"

#!/usr/bin/env bash
# mapsrv's Kubernetes topology on one machine, without Docker: a redis-server, two mapsrv
# processes sharing it, and nginx in front of them hashing each browser to one process (the
# ingress). Everything runs unprivileged from one state directory. For trying a failover by hand
# (see README.md beside this file) and for tests/system/test_failover.py.
#
# With --router-extract, routes follow real roads: Valhalla's tiles are built from that OSM
# extract into the state directory and a valhalla_service (PyPI's pyvalhalla, in the Python 3.12
# venv scripts/valhalla-env.sh makes) runs beside Redis; both mapsrv get --router.
#
# With --geocoder-extract, places are looked up in Nominatim: that OSM extract is imported into a
# database of a local PostgreSQL with PostGIS (--geocoder-dsn) by the `nominatim` of the venv
# scripts/nominatim-env.sh makes, and `nominatim serve` runs beside Redis; both mapsrv get
# --geocoder. (On a laptop, `mapsrv places import` needs no service at all: README.md here.)
#
# On stdout: one line per component, "NAME pid=PID url=URL", then "ready". Logs are in the state
# directory. Stops every child by its PID on SIGTERM, SIGINT (Ctrl-C) or exit. SIGHUP restarts
# whichever mapsrv process has died (e.g. after your kill -9), on its old port.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: deploy/local/run.sh [options] [-- extra mapsrv serve flags]

  --dir DIR            state directory (created; default: a new temp dir, removed at exit)
  --port PORT          nginx's port (default: a free one)
  --listen ADDR        nginx's address (default: 127.0.0.1)
  --a-port PORT        mapsrv-a's port (default: a free one)
  --b-port PORT        mapsrv-b's port (default: a free one)
  --redis-port PORT    redis-server's port (default: a free one)
  --redis-persist      redis with an append-only file in the state directory (default: no
                       persistence: --save '' --appendonly no)
  --public-url URL     the URL people open (default: nginx's URL)
  --allowed-hosts LIST Host names mapsrv accepts (default: localhost,127.0.0.1,[::1])
  --python PYTHON      run "PYTHON -m mapsrv" (default: mapsrv on PATH, else python3 -m mapsrv)
  --keep               keep the temp state directory at exit
  --router-extract FILE
                       route along the roads of this OpenStreetMap extract (.osm.pbf): build
                       Valhalla's tiles from it (reused with --dir while FILE is unchanged), run
                       valhalla_service, and pass --router to both mapsrv (default: no router,
                       routes are straight lines)
  --router-port PORT   valhalla_service's port (default: a free one)
  --geocoder-extract FILE
                       look places up in this OpenStreetMap extract (.osm.pbf): import it into
                       Nominatim (a database of its own on the --geocoder-dsn server, reused
                       with --dir while FILE is unchanged, dropped at exit without --dir), run
                       `nominatim serve`, and pass --geocoder to both mapsrv (default: none)
  --geocoder-dsn DSN   the PostgreSQL server with PostGIS, in Nominatim's form, as a role that
                       may create databases and extensions (default:
                       "pgsql:host=/var/run/postgresql;user=postgres", the local socket)
  --geocoder-port PORT `nominatim serve`'s port (default: a free one)

Environment: MAPSRV_LOCAL_DIR, MAPSRV_LOCAL_PORT, MAPSRV_LOCAL_LISTEN, MAPSRV_LOCAL_A_PORT,
MAPSRV_LOCAL_B_PORT, MAPSRV_LOCAL_REDIS_PORT, MAPSRV_LOCAL_REDIS_PERSIST=1,
MAPSRV_LOCAL_PUBLIC_URL, MAPSRV_LOCAL_ALLOWED_HOSTS, MAPSRV_LOCAL_PYTHON, MAPSRV_LOCAL_KEEP=1,
MAPSRV_LOCAL_ROUTER_EXTRACT, MAPSRV_LOCAL_ROUTER_PORT, MAPSRV_LOCAL_GEOCODER_EXTRACT,
MAPSRV_LOCAL_GEOCODER_DSN, MAPSRV_LOCAL_GEOCODER_PORT (flags win). Other MAPSRV_* variables
reach both mapsrv processes as their settings. VALHALLA_HOME: the venv with pyvalhalla (default
.tox/valhalla in the repository; made by scripts/valhalla-env.sh when it has no Valhalla).
NOMINATIM_HOME: the venv with Nominatim (default .tox/nominatim in the repository; made by
scripts/nominatim-env.sh when it has no nominatim).
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${MAPSRV_LOCAL_DIR:-}
port=${MAPSRV_LOCAL_PORT:-}
listen=${MAPSRV_LOCAL_LISTEN:-127.0.0.1}
a_port=${MAPSRV_LOCAL_A_PORT:-}
b_port=${MAPSRV_LOCAL_B_PORT:-}
redis_port=${MAPSRV_LOCAL_REDIS_PORT:-}
redis_persist=${MAPSRV_LOCAL_REDIS_PERSIST:-}
public_url=${MAPSRV_LOCAL_PUBLIC_URL:-}
allowed_hosts=${MAPSRV_LOCAL_ALLOWED_HOSTS:-localhost,127.0.0.1,[::1]}
python=${MAPSRV_LOCAL_PYTHON:-}
keep=${MAPSRV_LOCAL_KEEP:-}
router_extract=${MAPSRV_LOCAL_ROUTER_EXTRACT:-}
router_port=${MAPSRV_LOCAL_ROUTER_PORT:-}
geocoder_extract=${MAPSRV_LOCAL_GEOCODER_EXTRACT:-}
geocoder_dsn=${MAPSRV_LOCAL_GEOCODER_DSN:-pgsql:host=/var/run/postgresql;user=postgres}
geocoder_port=${MAPSRV_LOCAL_GEOCODER_PORT:-}
extra=()

while [ $# -gt 0 ]; do
    case $1 in  # an option that takes a value, given none: say so (not bash's "unbound variable")
        --dir | --port | --listen | --a-port | --b-port | --redis-port | --public-url | --allowed-hosts | \
            --python | --router-extract | --router-port | --geocoder-extract | --geocoder-dsn | --geocoder-port)
            [ $# -ge 2 ] || { echo "run.sh: $1 needs a value (see --help)" >&2; exit 2; } ;;
    esac
    case $1 in
        --dir) dir=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --listen) listen=$2; shift 2 ;;
        --a-port) a_port=$2; shift 2 ;;
        --b-port) b_port=$2; shift 2 ;;
        --redis-port) redis_port=$2; shift 2 ;;
        --redis-persist) redis_persist=1; shift ;;
        --public-url) public_url=$2; shift 2 ;;
        --allowed-hosts) allowed_hosts=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --router-extract) router_extract=$2; shift 2 ;;
        --router-port) router_port=$2; shift 2 ;;
        --geocoder-extract) geocoder_extract=$2; shift 2 ;;
        --geocoder-dsn) geocoder_dsn=$2; shift 2 ;;
        --geocoder-port) geocoder_port=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
# mapsrv refuses unknown MAPSRV_* settings: these are ours, not its.
unset "${!MAPSRV_LOCAL_@}"

log() { echo "run.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# --- what to run --------------------------------------------------------------------------------

if [ -n "$python" ]; then
    mapsrv_cmd=("$python" -m mapsrv)
elif command -v mapsrv >/dev/null; then
    mapsrv_cmd=(mapsrv)
    python=python3
else
    python=python3
    mapsrv_cmd=("$python" -m mapsrv)
fi
nginx_bin=$(command -v nginx || true)
[ -n "$nginx_bin" ] || { [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx; } ||
    die "nginx not found (Debian: apt-get install nginx-light)"
redis_bin=$(command -v redis-server || true)
[ -n "$redis_bin" ] || { [ -x /usr/sbin/redis-server ] && redis_bin=/usr/sbin/redis-server; } ||
    die "redis-server not found (Debian: apt-get install redis-server)"
valhalla_bin=
if [ -n "$router_extract" ]; then
    [ -f "$router_extract" ] || die "--router-extract: no such file: $router_extract"
    router_extract="$(cd "$(dirname "$router_extract")" && pwd)/$(basename "$router_extract")"
    repo=$(cd "$here/../.." && pwd)
    valhalla_home=${VALHALLA_HOME:-.tox/valhalla}
    case $valhalla_home in /*) ;; *) valhalla_home="$repo/$valhalla_home" ;; esac  # as valhalla-env.sh
    valhalla_bin=$("$valhalla_home/bin/python" -m valhalla print_bin_path 2>/dev/null || true)
    if [ -z "$valhalla_bin" ] || [ ! -x "$valhalla_bin/valhalla_build_tiles" ] ||
        [ ! -x "$valhalla_bin/valhalla_service" ]; then
        log "no Valhalla in $valhalla_home: scripts/valhalla-env.sh installs it (once)"
        VALHALLA_HOME=$valhalla_home "$repo/scripts/valhalla-env.sh" >&2 ||
            die "scripts/valhalla-env.sh could not install Valhalla"
        valhalla_bin=$("$valhalla_home/bin/python" -m valhalla print_bin_path) ||
            die "no Valhalla in $valhalla_home after scripts/valhalla-env.sh"
    fi
fi
if [ -n "$geocoder_extract" ]; then
    [ -f "$geocoder_extract" ] || die "--geocoder-extract: no such file: $geocoder_extract"
    geocoder_extract="$(cd "$(dirname "$geocoder_extract")" && pwd)/$(basename "$geocoder_extract")"
    case $geocoder_dsn in
        pgsql:*) ;;
        *) die "--geocoder-dsn: give it in Nominatim's form, pgsql:host=...;user=..., got $geocoder_dsn" ;;
    esac
    case ";${geocoder_dsn#pgsql:};" in
        *";dbname="*) die "--geocoder-dsn names a database: run.sh makes its own, leave dbname out" ;;
    esac
    repo=$(cd "$here/../.." && pwd)
    nominatim_home=${NOMINATIM_HOME:-.tox/nominatim}
    case $nominatim_home in /*) ;; *) nominatim_home="$repo/$nominatim_home" ;; esac  # as nominatim-env.sh
    if [ ! -x "$nominatim_home/bin/nominatim" ]; then
        log "no Nominatim in $nominatim_home: scripts/nominatim-env.sh installs it (once)"
        NOMINATIM_HOME=$nominatim_home "$repo/scripts/nominatim-env.sh" >&2 ||
            die "scripts/nominatim-env.sh could not install Nominatim"
        [ -x "$nominatim_home/bin/nominatim" ] ||
            die "no Nominatim in $nominatim_home after scripts/nominatim-env.sh"
    fi
fi

# --- state directory and ports ------------------------------------------------------------------

created_dir=
if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/mapsrv-local.XXXXXX")
    created_dir=1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

wanted=("$port" "$a_port" "$b_port" "$redis_port")
[ -z "$router_extract" ] || wanted+=("$router_port")
[ -z "$geocoder_extract" ] || wanted+=("$geocoder_port")
missing=0
for p in "${wanted[@]}"; do [ -n "$p" ] || missing=$((missing + 1)); done
if [ "$missing" -gt 0 ]; then
    # Bound all at once, so they differ; another program could still take one before we do.
    read -r -a free < <("$python" -c '
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))
' "$missing") ||
        die "cannot pick free ports with $python"
    [ ${#free[@]} -eq "$missing" ] || die "cannot pick free ports with $python"
    [ -n "$port" ] || { port=${free[0]}; free=("${free[@]:1}"); }
    [ -n "$a_port" ] || { a_port=${free[0]}; free=("${free[@]:1}"); }
    [ -n "$b_port" ] || { b_port=${free[0]}; free=("${free[@]:1}"); }
    [ -n "$redis_port" ] || { redis_port=${free[0]}; free=("${free[@]:1}"); }
    if [ -n "$router_extract" ] && [ -z "$router_port" ]; then
        router_port=${free[0]}
        free=("${free[@]:1}")
    fi
    [ -z "$geocoder_extract" ] || [ -n "$geocoder_port" ] || geocoder_port=${free[0]}
fi
url_host=$listen
case $url_host in 0.0.0.0 | "") url_host=127.0.0.1 ;; *:*) url_host="[$url_host]" ;; esac
nginx_url="http://$url_host:$port/"
[ -n "$public_url" ] || public_url=$nginx_url
redis_url="redis://127.0.0.1:$redis_port/0"
router_args=()
[ -z "$router_extract" ] || router_args=(--router "valhalla+http://127.0.0.1:$router_port")
geocoder_args=()
[ -z "$geocoder_extract" ] || geocoder_args=(--geocoder "nominatim+http://127.0.0.1:$geocoder_port")
# One database per state directory, so that two run.sh on one server keep theirs apart. The
# API reads it as the role that imported it (Nominatim's default, www-data, need not exist).
geocoder_db="mapsrv_local_$(printf '%s' "$dir" | cksum | cut -d' ' -f1)"
geocoder_db_made=
if [ -n "$geocoder_extract" ]; then
    geocoder_user=$(printf '%s' ";${geocoder_dsn#pgsql:};" | sed -n 's/.*;user=\([^;]*\);.*/\1/p')
    [ -n "$geocoder_user" ] || geocoder_user=$(id -un)
    export NOMINATIM_DATABASE_DSN="$geocoder_dsn;dbname=$geocoder_db"
    export NOMINATIM_DATABASE_WEBUSER=$geocoder_user
fi

# --- children -----------------------------------------------------------------------------------

declare -A pids=() urls=()
names=()

alive() {  # running, and not a zombie waiting to be reaped
    local pid=$1 stat
    kill -0 "$pid" 2>/dev/null || return 1
    [ -d /proc/self ] || return 0  # no /proc: kill -0 is all we can know
    # bash reaps an exited child whenever SIGCHLD comes, so its /proc entry can vanish between
    # kill -0 and this read: that child is gone, not alive (and not worth an error message).
    { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

reap() {  # an exited child's status collected, if bash has not collected it already
    # A "wait -n" cut short by a trap may have collected it and kept nothing of it: a wait for
    # that PID then blocked until some other child ended, and no trap ran meanwhile (CI: a stop
    # hung 60 s after a kill -9 and SIGTERM with SIGHUP; a loop of them hung 4 in 200). A child
    # gone from /proc is collected; one still there (a zombie, or just SIGKILLed) is waited for.
    if [ -d /proc/self ] && [ ! -e "/proc/$1" ]; then return 0; fi
    wait "$1" 2>/dev/null || true
}

stop_pids() {  # SIGTERM each, then SIGKILL whatever is left after 15 s
    local pid deadline=$((SECONDS + 15))
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
        while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
        if alive "$pid"; then
            log "pid $pid did not stop on SIGTERM: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        reap "$pid"
    done
}

cleanup() {
    # First, before anything can interrupt it: nothing may cut the stop short. Reset to their
    # default action, a SIGHUP, SIGINT or second SIGTERM during the stop would kill this shell
    # halfway and orphan every child not yet stopped (bash even re-sends itself a signal still
    # pending when its trap is reset); so they stay caught, and only noted. Nor may a failing
    # command end it early (set -e).
    trap 'log "stopping: SIGHUP ignored"' HUP
    trap 'log "stopping: SIGINT ignored"' INT
    trap 'log "stopping: SIGTERM ignored"' TERM
    trap - EXIT
    set +e
    stopping=1
    local group name todo
    # The proxy first (clients move on), then both mapsrv, then the store they flush to and the
    # router and geocoder they ask. A child is in pids[] from the moment it is started, ready or
    # not (a restart in progress); a tile build or an import only while it runs. The import runs
    # in a process group of its own: osm2pgsql, its child, stops with it.
    if [ -n "${pids[nominatim-import]:-}" ]; then
        kill -TERM -- "-${pids[nominatim-import]}" 2>/dev/null || true
    fi
    for group in "valhalla-build nominatim-import nginx" "mapsrv-a mapsrv-b" "redis valhalla nominatim"; do
        todo=()
        for name in $group; do
            [ -n "${pids[$name]:-}" ] && todo+=("${pids[$name]}")
        done
        [ ${#todo[@]} -eq 0 ] || stop_pids "${todo[@]}"
    done
    # A signal handled between "command &" and recording its $! leaves one child unnamed.
    mapfile -t todo < <(jobs -p)
    [ ${#todo[@]} -eq 0 ] || stop_pids "${todo[@]}"
    if [ -n "$created_dir" ] && [ -z "$keep" ]; then
        # Nothing would ever use the database again: it goes with the directory.
        [ -z "$geocoder_db_made" ] || drop_geocoder_db
        rm -rf "$dir"
    fi
}
stopping=
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# A signal ignored when a script starts (nohup ignores SIGHUP) cannot be trapped, and trap says
# nothing: say it here, before a kill -HUP or a Ctrl-C is found to do nothing.
for sig in HUP INT TERM; do
    if [ "$(trap -p "$sig")" = "trap -- '' SIG$sig" ]; then
        case $sig in HUP) what="a dead mapsrv is not restarted" ;; *) what="stop run.sh with another signal" ;; esac
        log "SIG$sig was ignored when run.sh started (nohup?), so it does nothing here: $what"
    fi
done

# wait_for NAME PID CHECK...: until CHECK succeeds. If NAME exits or 30 s pass, everything stops
# (at startup) or NAME is given up on (a restart, with $restarting set).
restarting=
wait_for() {
    local name=$1 pid=$2 deadline=$((SECONDS + 30))
    shift 2
    until "$@"; do
        if ! alive "$pid"; then
            log "$name exited during startup; the end of $dir/$name.log:"
            tail -n 20 "$dir/$name.log" >&2 || true
            [ -n "$restarting" ] && return 1
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "$name did not become ready in 30 s (see $dir/$name.log)"
            [ -n "$restarting" ] && { kill -KILL "$pid" 2>/dev/null || true; return 1; }
            exit 1
        fi
        sleep 0.05
    done
}

# The probes write in a subshell: a peer that resets the connection (a mapsrv killed or stopping)
# makes the write raise SIGPIPE, which would end run.sh itself if a builtin wrote in it.
http_status() {  # http_status PORT PATH: the status code of a GET, in pure bash
    local status
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    (printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3) 2>/dev/null || { exec 3>&-; return 1; }
    IFS=' ' read -r -t 5 _ status _ <&3 2>/dev/null || status=
    exec 3>&-
    [ "$status" = "${3:-200}" ]
}

redis_pong() {
    local reply
    { exec 3<>"/dev/tcp/127.0.0.1/$redis_port"; } 2>/dev/null || return 1
    (printf 'PING\r\n' >&3) 2>/dev/null || { exec 3>&-; return 1; }
    IFS= read -r -t 5 reply <&3 2>/dev/null || reply=
    exec 3>&-
    [ "${reply%$'\r'}" = "+PONG" ]
}

# spawned NAME PID: a child exists, ready or not; cleanup stops it from now on. A restart
# replaces the dead process's PID, which has been reaped already.
spawned() {
    [ -n "${pids[$1]:-}" ] || names+=("$1")
    pids[$1]=$2
}

started() {  # started NAME PID URL: it is ready
    urls[$1]=$3
    echo "$1 pid=$2 url=$3"
}

start_redis() {
    local persistence=(--appendonly no)
    [ -z "$redis_persist" ] || persistence=(--appendonly yes --appendfsync everysec)
    mkdir -p "$dir/redis"
    "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --save '' "${persistence[@]}" \
        --dir "$dir/redis" --logfile '' >"$dir/redis.log" 2>&1 &
    local pid=$!
    spawned redis "$pid"
    wait_for redis "$pid" redis_pong
    started redis "$pid" "$redis_url"
}

build_valhalla_tiles() {
    # The configuration every start (the port may be new); the tiles only when the extract is not
    # the file they were built from (path, size, modification time).
    local conf="$dir/valhalla/valhalla.json" stamp built="" pid
    mkdir -p "$dir/valhalla"
    "$valhalla_home/bin/valhalla_build_config" --mjolnir-tile-dir "$dir/valhalla/tiles" \
        --mjolnir-tile-extract "" --mjolnir-traffic-extract "" --mjolnir-admin "" \
        --mjolnir-timezone "" --httpd-service-listen "tcp://127.0.0.1:$router_port" \
        --httpd-service-drain-seconds 0 --httpd-service-shutdown-seconds 1 >"$conf" ||
        die "valhalla_build_config failed"
    stamp=$(stat -c '%n %s %Y' "$router_extract")
    [ ! -f "$dir/valhalla/built-from" ] || built=$(cat "$dir/valhalla/built-from")
    if [ "$built" = "$stamp" ] && [ -d "$dir/valhalla/tiles" ]; then
        log "valhalla: the tiles in $dir/valhalla/tiles are from $router_extract already"
        return
    fi
    rm -rf "$dir/valhalla/tiles" "$dir/valhalla/built-from"
    mkdir -p "$dir/valhalla/tiles"
    log "valhalla: building tiles from $router_extract (a city: seconds; a country: minutes" \
        "to hours; log: $dir/valhalla-build.log)"
    # In the background, so that a signal stops it like any child (a foreground command would
    # delay the trap until it ends).
    "$valhalla_bin/valhalla_build_tiles" --config "$conf" "$router_extract" \
        >"$dir/valhalla-build.log" 2>&1 &
    pid=$!
    pids[valhalla-build]=$pid
    if ! wait "$pid"; then
        pids[valhalla-build]=
        log "valhalla_build_tiles failed; the end of $dir/valhalla-build.log:"
        tail -n 20 "$dir/valhalla-build.log" >&2 || true
        exit 1
    fi
    pids[valhalla-build]=
    echo "$stamp" >"$dir/valhalla/built-from"
}

start_valhalla() {
    "$valhalla_bin/valhalla_service" "$dir/valhalla/valhalla.json" 2 >"$dir/valhalla.log" 2>&1 &
    local pid=$!
    spawned valhalla "$pid"
    wait_for valhalla "$pid" http_status "$router_port" /status
    started valhalla "$pid" "http://127.0.0.1:$router_port/"
}

# geocoder_sql SQL: run one statement on the --geocoder-dsn server (its maintenance database),
# with the psycopg of Nominatim's venv: no psql needed. Prints the first column of the first row.
geocoder_sql() {
    "$nominatim_home/bin/python" - "$geocoder_dsn" "$1" <<'EOF'
import sys
import psycopg
params = dict(p.split("=", 1) for p in sys.argv[1].removeprefix("pgsql:").split(";") if p)
with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
    cur = conn.execute(sys.argv[2])
    row = cur.fetchone() if cur.description else None
    print("" if row is None else row[0])
EOF
}

drop_geocoder_db() {
    geocoder_sql "DROP DATABASE IF EXISTS \"$geocoder_db\" WITH (FORCE)" >/dev/null 2>&1 ||
        log "could not drop the database $geocoder_db (drop it by hand)"
}

import_nominatim() {
    # The database only when the extract is not the file it was imported from (path, size,
    # modification time) or is gone; the project directory (just settings) every start.
    local stamp built="" pid exists
    mkdir -p "$dir/nominatim"
    stamp="$(stat -c '%n %s %Y' "$geocoder_extract") $geocoder_dsn"
    [ ! -f "$dir/nominatim/imported-from" ] || built=$(cat "$dir/nominatim/imported-from")
    exists=$(geocoder_sql "SELECT count(*) FROM pg_database WHERE datname = '$geocoder_db'") ||
        die "cannot reach PostgreSQL at --geocoder-dsn $geocoder_dsn (as a role that may create databases)"
    if [ "$built" = "$stamp" ] && [ "$exists" = 1 ]; then
        log "nominatim: the database $geocoder_db is from $geocoder_extract already"
        return
    fi
    rm -f "$dir/nominatim/imported-from"
    geocoder_db_made=1
    geocoder_sql "DROP DATABASE IF EXISTS \"$geocoder_db\" WITH (FORCE)" >/dev/null ||
        die "cannot drop the old database $geocoder_db"
    log "nominatim: importing $geocoder_extract into $geocoder_db (a city: a minute or two; a" \
        "country: hours; log: $dir/nominatim-import.log)"
    # In the background, so that a signal stops it like any child, and in a process group of its
    # own (setsid), so that cleanup stops osm2pgsql with it.
    (cd "$dir/nominatim" && exec setsid "$nominatim_home/bin/nominatim" import \
        --osm-file "$geocoder_extract" --no-updates) >"$dir/nominatim-import.log" 2>&1 &
    pid=$!
    pids[nominatim-import]=$pid
    if ! wait "$pid"; then
        pids[nominatim-import]=
        log "nominatim import failed; the end of $dir/nominatim-import.log:"
        tail -n 20 "$dir/nominatim-import.log" >&2 || true
        exit 1
    fi
    pids[nominatim-import]=
    echo "$stamp" >"$dir/nominatim/imported-from"
}

start_nominatim() {
    (cd "$dir/nominatim" && exec "$nominatim_home/bin/nominatim" serve \
        --server "127.0.0.1:$geocoder_port") >"$dir/nominatim.log" 2>&1 &
    local pid=$!
    spawned nominatim "$pid"
    wait_for nominatim "$pid" http_status "$geocoder_port" /status
    started nominatim "$pid" "http://127.0.0.1:$geocoder_port/"
}

mapsrv_ready() { http_status "$1" /ready; }

start_mapsrv() {  # start_mapsrv NAME PORT
    local name=$1 p=$2
    "${mapsrv_cmd[@]}" serve --host 127.0.0.1 --port "$p" --store "$redis_url" \
        --public-url "$public_url" --allowed-hosts "$allowed_hosts" --trusted-proxies 127.0.0.1/32 \
        "${router_args[@]}" "${geocoder_args[@]}" "${extra[@]}" \
        >>"$dir/$name.log" 2>&1 &
    local pid=$!
    spawned "$name" "$pid"
    wait_for "$name" "$pid" mapsrv_ready "$p" || return 1
    started "$name" "$pid" "http://127.0.0.1:$p/"
}

write_nginx_conf() {
    local user="" other="" module
    # As root, nginx's workers run as nobody; as anyone else they stay that user.
    [ "$(id -u)" -ne 0 ] || user="user nobody $(id -gn nobody 2>/dev/null || echo nogroup);"
    for module in fastcgi uwsgi scgi; do  # only the modules this nginx was built with
        if ! "$nginx_bin" -V 2>&1 | grep -q -- "--without-http_${module}_module"; then
            other+="    ${module}_temp_path $dir/nginx-temp/$module;"$'\n'
        fi
    done
    mkdir -p "$dir/nginx-temp"
    local listen_addr=$listen
    case $listen_addr in *:*) listen_addr="[$listen_addr]" ;; esac
    sed -e "s|@@DIR@@|$dir|g" -e "s|@@USER@@|$user|" -e "s|@@LISTEN@@|$listen_addr:$port|" \
        -e "s|@@A_PORT@@|$a_port|" -e "s|@@B_PORT@@|$b_port|" \
        "$here/nginx.conf.template" |
        awk -v other="${other%$'\n'}" '$0 == "@@OTHER_TEMP_PATHS@@" { print other; next } { print }' \
            >"$dir/nginx.conf"
}

start_nginx() {
    write_nginx_conf
    "$nginx_bin" -p "$dir" -c nginx.conf -e stderr -t >"$dir/nginx.log" 2>&1 ||
        { cat "$dir/nginx.log" >&2; die "nginx refused $dir/nginx.conf"; }
    "$nginx_bin" -p "$dir" -c nginx.conf -e stderr -g 'daemon off;' >>"$dir/nginx.log" 2>&1 &
    local pid=$!
    spawned nginx "$pid"
    wait_for nginx "$pid" http_status "$port" /health
    started nginx "$pid" "$nginx_url"
}

# On SIGHUP. A SIGHUP during a restart runs this again inside it: then it only asks the running
# one to look again when it is done.
restart_again=
restart_dead_mapsrv() {
    # After a SIGTERM or SIGINT, start nothing: cleanup may have listed its children already.
    [ -z "$stopping" ] || return 0
    if [ -n "$restarting" ]; then
        restart_again=1
        return
    fi
    local name p
    restarting=1
    restart_again=1
    while [ -n "$restart_again" ]; do
        restart_again=
        for name in mapsrv-a mapsrv-b; do
            if ! alive "${pids[$name]}"; then
                reap "${pids[$name]}"
                p=${urls[$name]##*:}
                p=${p%/}
                log "restarting $name on port $p"
                start_mapsrv "$name" "$p" || log "could not restart $name"
            fi
        done
    done
    restarting=
}

echo "dir path=$dir"
[ -z "$router_extract" ] || build_valhalla_tiles
[ -z "$geocoder_extract" ] || import_nominatim
start_redis
[ -z "$router_extract" ] || start_valhalla
[ -z "$geocoder_extract" ] || start_nominatim
start_mapsrv mapsrv-a "$a_port"
start_mapsrv mapsrv-b "$b_port"
start_nginx
# The restart trap before the ready line: a SIGHUP sent as soon as "ready" is read must restart,
# not end the script (once the servers took a little longer to start, a test's did).
trap restart_dead_mapsrv HUP
echo "ready"
log "open $public_url in a browser; kill -9 ${pids[mapsrv-a]} or ${pids[mapsrv-b]} to try a failover;" \
    "kill -HUP $$ restarts a dead mapsrv; Ctrl-C stops everything (logs: $dir)"
while true; do
    status=0
    exited=
    wait -n -p exited 2>/dev/null || status=$?  # (bash's own "Killed" notice: we say it below)
    if [ -z "${exited:-}" ]; then
        [ "$status" -eq 127 ] && break  # no children left
        continue  # a signal (SIGHUP) interrupted the wait
    fi
    for name in "${names[@]}"; do
        if [ "${pids[$name]}" = "$exited" ]; then
            log "$name (pid $exited) exited with status $status"
        fi
    done
done

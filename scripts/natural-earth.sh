#!/usr/bin/env bash
# The offline world basemap's data, reproducibly: Natural Earth's countries (public domain) at
# 1:110m and 1:50m, as TopoJSON from the npm package world-atlas 2.0.2 (ISC; its notice is kept
# beside the files). Run once, by hand, when the data should change; the files are committed, so
# nothing is downloaded at build or run time. Needs npm (any registry mirror it is set up for).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=2.0.2
SHA256_110M=2516c915867c7baf18ddec727aec46c315541a07cfb3d79a6559b05d5e94eee8
SHA256_50M=04342cdc1e3016bcd7db1630de95684d67b79fe3c8c460321e87aef469502394
out=mapsrv/places/world
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "world-atlas@$VERSION" >/dev/null && tar xzf "world-atlas-$VERSION.tgz")
echo "$SHA256_110M  $work/package/countries-110m.json" | sha256sum --check --quiet
echo "$SHA256_50M  $work/package/countries-50m.json" | sha256sum --check --quiet
mkdir -p "$out"
cp "$work/package/countries-110m.json" "$work/package/countries-50m.json" "$out/"
{
    echo "countries-110m.json and countries-50m.json: Natural Earth (naturalearthdata.com), public"
    echo "domain, 'Admin 0 - Countries' at 1:110m and 1:50m, as TopoJSON from the npm package"
    echo "world-atlas $VERSION (scripts/natural-earth.sh fetches and checks them), whose notice follows."
    echo
    cat "$work/package/LICENSE"
} > "$out/NOTICE"
echo "wrote $out"

#!/usr/bin/env bash
# Installs the Node parts the gateway's tests and benchmarks drive: Node 22 (the `node` package
# from the npm registry, which ships the binary, as scripts/conformance.sh does), the reference
# stdio server @modelcontextprotocol/server-everything, the TypeScript SDK (its client drives the
# gateway in tests/gateway/test_gateway_node.py), and supergateway (the peer in
# tests/bench/gateway.py); and for the MCP App's host tests (tests/mcp/test_app_in_hosts.py) the
# official MCP Apps SDK @modelcontextprotocol/ext-apps (its AppBridge, with its peer, the v2
# client SDK) and esbuild, which bundles the test host around it; and oidc-provider, the OpenID
# provider the sign-in and MCP authorization tests run (tests/support/openid.py); all pinned, into $GATEWAY_NODE_HOME (default
# .tox/gateway-node, git-ignored), once; reused while the pinned versions match.
# tox's tests env runs it first and points GATEWAY_NODE_HOME at the same directory.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=22.23.3
EVERYTHING_VERSION=2026.8.31   # tested; bump deliberately
SUPERGATEWAY_VERSION=4.0.0     # the bridge issue 11 measured
SDK_VERSION=1.32.2             # @modelcontextprotocol/sdk, the one server-everything uses
EXT_APPS_VERSION=2.0.4         # @modelcontextprotocol/ext-apps: the MCP Apps spec of 2026-01-26
CLIENT_VERSION=2.4.0           # @modelcontextprotocol/client and core, ext-apps' peers
ESBUILD_VERSION=0.28.2
OIDC_PROVIDER_VERSION=9.13.3   # oidc-provider: OpenID-certified

home=${GATEWAY_NODE_HOME:-.tox/gateway-node}
mkdir -p "$home"
home=$(cd "$home" && pwd)
node="$home/node_modules/.bin/node"
everything="$home/node_modules/@modelcontextprotocol/server-everything"
supergateway="$home/node_modules/supergateway"
ext_apps="$home/node_modules/@modelcontextprotocol/ext-apps"
esbuild="$home/node_modules/esbuild"
oidc_provider="$home/node_modules/oidc-provider"
sdk="$home/node_modules/@modelcontextprotocol/sdk"

installed() {
    [ -x "$node" ] && [ -f "$everything/dist/index.js" ] || return 1
    [ "$("$node" --version 2>/dev/null)" = "v$NODE_VERSION" ] || return 1
    [ "$("$node" -p "require('$everything/package.json').version" 2>/dev/null)" = "$EVERYTHING_VERSION" ] || return 1
    [ "$("$node" -p "require('$sdk/package.json').version" 2>/dev/null)" = "$SDK_VERSION" ] || return 1
    [ "$("$node" -p "require('$ext_apps/package.json').version" 2>/dev/null)" = "$EXT_APPS_VERSION" ] || return 1
    [ "$("$node" -p "require('$esbuild/package.json').version" 2>/dev/null)" = "$ESBUILD_VERSION" ] || return 1
    [ -x "$home/node_modules/.bin/esbuild" ] || return 1
    [ "$("$node" -p "require('$oidc_provider/package.json').version" 2>/dev/null)" = "$OIDC_PROVIDER_VERSION" ] || return 1
    [ "$("$node" -p "require('$supergateway/package.json').version" 2>/dev/null)" = "$SUPERGATEWAY_VERSION" ]
}

if ! installed; then
    command -v npm >/dev/null || { echo "gateway-node: npm is needed to install Node $NODE_VERSION" >&2; exit 1; }
    echo "gateway-node: installing node@$NODE_VERSION, server-everything@$EVERYTHING_VERSION, sdk@$SDK_VERSION, supergateway@$SUPERGATEWAY_VERSION, ext-apps@$EXT_APPS_VERSION, esbuild@$ESBUILD_VERSION, oidc-provider@$OIDC_PROVIDER_VERSION into $home"
    if ! npm install --prefix "$home" --no-audit --no-fund --loglevel=error \
        "node@$NODE_VERSION" "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION" \
        "@modelcontextprotocol/sdk@$SDK_VERSION" \
        "supergateway@$SUPERGATEWAY_VERSION" "@modelcontextprotocol/ext-apps@$EXT_APPS_VERSION" \
        "@modelcontextprotocol/client@$CLIENT_VERSION" "@modelcontextprotocol/core@$CLIENT_VERSION" \
        "esbuild@$ESBUILD_VERSION" "oidc-provider@$OIDC_PROVIDER_VERSION" >"$home/npm-install.log" 2>&1; then
        cat "$home/npm-install.log" >&2
        exit 1
    fi
    installed || { echo "gateway-node: the install did not produce what is pinned" >&2; exit 1; }
fi
echo "gateway-node: node $("$node" --version), server-everything $EVERYTHING_VERSION, sdk $SDK_VERSION, supergateway $SUPERGATEWAY_VERSION, ext-apps $EXT_APPS_VERSION, esbuild $ESBUILD_VERSION, oidc-provider $OIDC_PROVIDER_VERSION in $home"

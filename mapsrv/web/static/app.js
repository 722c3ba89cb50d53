/* mapsrv: the live map as an MCP App (ui://mapsrv/map, mapsrv/mcp/templates/app.html), in a host's
 * sandboxed iframe. It speaks the MCP Apps postMessage protocol (ui/initialize, then
 * ui/notifications/tool-result) with the host, and follows the map the tool result names through
 * that map's read-only event stream, drawn by the page's own renderer (render.js): the same
 * symbols, circles, labels that fit and clusters as the standalone page.
 *
 * The iframe's origin is opaque, so everything here comes from mapsrv's origin with CORS (static
 * files and view streams answer any origin), and the stream never asks to resume (that header
 * would need a preflight): a reconnect starts from a snapshot.
 */

import { EventStream } from './stream.js';
import { escapeHtml } from './dom.js';
import { createRenderer } from './render.js';
import { useOfflineWorld } from './basemap.js';

const APPS_PROTOCOL = '2026-01-26';
const INIT_ID = 1;
const RETRY_MS = 3000;

const cfg = JSON.parse(document.getElementById('mapsrv-config').textContent);
const statusEl = document.getElementById('status');
const titleEl = document.getElementById('title');
const openEl = document.getElementById('open');
const bar = document.getElementById('bar');

L.Icon.Default.imagePath = cfg.origin + '/static/leaflet/images/';
const map = L.map('map', { worldCopyJump: true });
// The attribution control renders HTML; the server hands us plain text.
const tiles = cfg.tiles ? L.tileLayer(cfg.tiles, { maxZoom: 19, attribution: escapeHtml(cfg.attribution) }).addTo(map) : null;
// Natural Earth's countries (from mapsrv's origin) when the tile server cannot be reached.
useOfflineWorld(map, tiles, { origin: cfg.origin });

const view = createRenderer(map, {
  // Fitted features stay clear of the bar floating over the map's top edge.
  fitOptions: () => ({ paddingTopLeft: [30, Math.max(30, bar.getBoundingClientRect().bottom + 8)], paddingBottomRight: [30, 30] }),
  covers: '#bar, .leaflet-control',
});
view.applyView(null, []);
view.on('title', (title) => { titleEl.textContent = title || 'Untitled map'; });
view.on('applied', () => {
  document.body.setAttribute('data-version', String(view.version));
  document.body.setAttribute('data-features', String(view.features.size));
});

let source = null;
let following = null;
let retryTimer = null;

function open(url) {
  const es = new EventStream(url + '/events', { resume: false });
  source = es;
  statusEl.textContent = 'connecting';
  es.addEventListener('open', () => { if (source === es) statusEl.textContent = 'live'; });
  es.addEventListener('error', () => {
    if (source !== es) return;
    statusEl.textContent = 'reconnecting';
    // An HTTP error ends the stream for good (CLOSED): open a fresh one a little later.
    if (es.readyState === EventStream.CLOSED) retryTimer = setTimeout(() => { if (source === es) open(url); }, RETRY_MS);
  });
  es.addJsonListener('snapshot', view.snapshot);
  es.addJsonListener('change', view.changes);
}

function follow(url) {
  if (following === url) return;
  following = url;
  if (source) source.close();
  clearTimeout(retryTimer);
  openEl.href = url;
  openEl.hidden = false;
  open(url);
}

// ------------------------------------------------ MCP Apps: JSON-RPC 2.0 over postMessage
function post(message) {
  window.parent.postMessage(message, '*');
}

function onToolResult(result) {
  const meta = (result && result._meta) || {};
  const url = meta['mapsrv/view'];
  // Only this server's read-only view links are followed.
  if (typeof url === 'string' && url.startsWith(cfg.origin + '/v/')) follow(url);
  else if (!following) statusEl.textContent = 'no map in this result';
}

window.addEventListener('message', (event) => {
  if (event.source !== window.parent) return;
  const message = event.data;
  if (!message || message.jsonrpc !== '2.0') return;
  if (message.id === INIT_ID && ('result' in message || 'error' in message)) {
    post({ jsonrpc: '2.0', method: 'ui/notifications/initialized', params: {} });
  } else if (message.method === 'ui/notifications/tool-result') {
    onToolResult(message.params);
  }
});
post({
  jsonrpc: '2.0',
  id: INIT_ID,
  method: 'ui/initialize',
  params: { protocolVersion: APPS_PROTOCOL, appInfo: { name: 'mapsrv', version: cfg.version }, appCapabilities: {} },
});

/* mapsrv: the live map as an MCP App (ui://mapsrv/map, mapsrv/mcp/templates/app.html), in a host's
 * iframe. It speaks the MCP Apps protocol (2026-01-26: JSON-RPC 2.0 over postMessage) with the
 * host and follows the map a tool result names through that map's read-only event stream, drawn by
 * the page's own renderer (render.js): the same symbols, circles, labels that fit and clusters as
 * the standalone page.
 *
 * Its height is its own choice (HEIGHT, within the host's containerDimensions, or the fixed height
 * the host gives), set on the document element for hosts that read the DOM and reported with
 * ui/notifications/size-changed for hosts that size the iframe from it. It never reports what
 * the viewport measures, so no host can start a resize loop. Links open through ui/open-link (a
 * sandbox without popups opens nothing by itself); full screen through ui/request-display-mode;
 * the host context (theme, container dimensions, display mode) is followed as it changes.
 *
 * The iframe's origin is opaque, so everything here comes from mapsrv's origin with CORS (static
 * files and view streams answer any origin), and the stream never asks to resume (that header
 * would need a preflight): a reconnect starts from a snapshot.
 */

import { EventStream } from './stream.js';
import { escapeHtml } from './dom.js';
import { createRenderer } from './render.js';
import { firstDrawing, useOfflineWorld } from './basemap.js';

const APPS_PROTOCOL = '2026-01-26';
const RETRY_MS = 3000;
const HEIGHT = 420; // the height the app asks for inline: a map needs room, a chat has little
const MODES = ['inline', 'fullscreen'];

const cfg = JSON.parse(document.getElementById('mapsrv-config').textContent);
const root = document.documentElement;
const statusEl = document.getElementById('status');
const titleEl = document.getElementById('title');
const openEl = document.getElementById('open');
const fullEl = document.getElementById('fullscreen');
const noticeEl = document.getElementById('notice');
const bar = document.getElementById('bar');

L.Icon.Default.imagePath = cfg.origin + '/static/leaflet/images/';
const map = L.map('map', { worldCopyJump: true });
// The attribution control renders HTML; the server hands us plain text.
const tiles = cfg.tiles ? L.tileLayer(cfg.tiles, { maxZoom: 19, attribution: escapeHtml(cfg.attribution) }).addTo(map) : null;

const view = createRenderer(map, {
  // Fitted features stay clear of the bar floating over the map's top edge.
  fitOptions: () => ({ paddingTopLeft: [30, Math.max(30, bar.getBoundingClientRect().bottom + 8)], paddingBottomRight: [30, 30] }),
  covers: '#bar, .leaflet-control',
});
view.applyView(null, []);
// Natural Earth's countries and the street basemaps (from mapsrv's origin) when the tile server
// cannot be reached, drawn once the map's own features are.
useOfflineWorld(map, tiles, { origin: cfg.origin, after: firstDrawing(view), basemaps: cfg.basemaps || [] });
view.on('title', (title) => { titleEl.textContent = title || 'Untitled map'; });
view.on('applied', () => {
  document.body.setAttribute('data-version', String(view.version));
  document.body.setAttribute('data-features', String(view.features.size));
});

// ------------------------------------------------ the map's stream
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

function stop() {
  if (source) source.close();
  source = null;
  clearTimeout(retryTimer);
}

function follow(url) {
  say(null);
  if (following === url) return;
  following = url;
  stop();
  openEl.href = url;
  openEl.hidden = false;
  open(url);
  offerSearch();
}

// The search box for places (search.js), fetched once there is a map to search from: it asks the
// view link's /places (read-only, any origin may read it). Only flying: the app never writes.
let search = null;
function offerSearch() {
  if (search) return;
  search = import('./search.js').then(({ createPlaceSearch }) => {
    const box = createPlaceSearch(map, { where: () => following, padding: [30, 30] });
    titleEl.after(box.element);
  }, (err) => {
    search = null;
    console.error('mapsrv: the search box did not load', err);
  });
}

/** A message over the map (text only), or none. */
function say(text) {
  noticeEl.textContent = text || '';
  noticeEl.hidden = !text;
}

// ------------------------------------------------ MCP Apps: JSON-RPC 2.0 over postMessage
let nextId = 1;
const pending = new Map(); // request id -> {resolve, reject}
let hostCapabilities = {};
let context = {}; // the host context, as initialize gave it and host-context-changed updated it
let ready = false; // ui/initialize answered: size-changed may go out
let reported = null; // the last height sent in size-changed

function post(message) {
  window.parent.postMessage(message, '*');
}

function request(method, params) {
  const id = nextId++;
  post({ jsonrpc: '2.0', id, method, params });
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

function notify(method, params) {
  post({ jsonrpc: '2.0', method, params });
}

/** The view link a tool result names: in _meta (which hosts keep from the model), or in its
 * structured content when a host forwarded the result without _meta. Only this server's
 * read-only view links are followed. */
function viewLink(result) {
  const meta = (result && result._meta) || {};
  const structured = (result && result.structuredContent) || {};
  for (const url of [meta['mapsrv/view'], structured.view_url]) {
    if (typeof url === 'string' && url.startsWith(cfg.origin + '/v/')) return url;
  }
  return null;
}

function resultText(result) {
  const texts = ((result && result.content) || []).filter((c) => c && c.type === 'text').map((c) => c.text);
  return texts.join(' ').slice(0, 300);
}

function onToolResult(result) {
  const url = viewLink(result);
  if (url) {
    follow(url);
  } else if (!following) {
    statusEl.textContent = 'no map';
    say(result && result.isError
      ? 'The tool call failed, so there is no map to show. ' + resultText(result)
      : 'This tool result names no map, so there is nothing to show.');
  }
}

function onToolCancelled(params) {
  if (following) return;
  statusEl.textContent = 'cancelled';
  say('The tool call was cancelled' + (params && params.reason ? ' (' + params.reason + ')' : '') + ': no map to show.');
}

function onToolInput(params) {
  const args = (params && params.arguments) || {};
  if (following) return;
  if (typeof args.title === 'string' && args.title) titleEl.textContent = args.title;
  statusEl.textContent = 'drawing';
}

// ------------------------------------------------ the host context: size, theme, display mode
/** The height the app takes: the host's fixed height, the viewport in full screen, else HEIGHT
 * within the host's maxHeight. null: fill whatever the host gives (full screen). */
function chosenHeight() {
  const dims = context.containerDimensions || {};
  if (context.displayMode === 'fullscreen') return null;
  if (typeof dims.height === 'number' && dims.height > 0) return Math.round(dims.height);
  if (typeof dims.maxHeight === 'number' && dims.maxHeight > 0) return Math.round(Math.min(HEIGHT, dims.maxHeight));
  return HEIGHT;
}

function applyContext() {
  root.dataset.theme = context.theme === 'dark' ? 'dark' : 'light';
  const mode = context.displayMode === 'fullscreen' ? 'fullscreen' : 'inline';
  root.dataset.displayMode = mode;
  const offered = Array.isArray(context.availableDisplayModes) && context.availableDisplayModes.includes('fullscreen');
  fullEl.hidden = !offered;
  fullEl.textContent = mode === 'fullscreen' ? 'Exit full screen' : 'Full screen';
  fullEl.setAttribute('aria-pressed', String(mode === 'fullscreen'));
  const height = chosenHeight();
  root.style.height = height === null ? '100%' : height + 'px';
  map.invalidateSize({ animate: false }); // the centre stays where it was
  // Full screen: the host sizes the frame. Back inline, the height is told again even when it is
  // the one told before, since the host may have left the frame at its full-screen size.
  if (height === null) reported = null;
  if (ready && height !== null && height !== reported) {
    reported = height;
    notify('ui/notifications/size-changed', { height });
  }
}

async function setDisplayMode(mode) {
  try {
    const result = await request('ui/request-display-mode', { mode });
    if (result && MODES.includes(result.mode)) {
      context = { ...context, displayMode: result.mode };
      applyContext();
    }
  } catch (err) {
    statusEl.textContent = 'the host refused ' + mode;
  }
}

fullEl.addEventListener('click', () => {
  setDisplayMode(context.displayMode === 'fullscreen' ? 'inline' : 'fullscreen');
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && context.displayMode === 'fullscreen') setDisplayMode('inline');
});

openEl.addEventListener('click', async (event) => {
  // A sandbox without popups opens nothing by itself: the host opens the link. Hosts that do
  // not offer it keep the anchor's own behaviour.
  if (!hostCapabilities.openLinks) return;
  event.preventDefault();
  try {
    const result = await request('ui/open-link', { url: openEl.href });
    if (result && result.isError) statusEl.textContent = 'the host did not open the link';
  } catch (err) {
    statusEl.textContent = 'the host did not open the link';
  }
});

// ------------------------------------------------ messages from the host
function answer(id, result) {
  post({ jsonrpc: '2.0', id, result });
}

function onRequest(message) {
  switch (message.method) {
    case 'ui/resource-teardown':
      stop();
      following = null;
      statusEl.textContent = 'closed';
      answer(message.id, {});
      break;
    case 'ping':
      answer(message.id, {});
      break;
    default:
      post({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'mapsrv app: no method ' + message.method } });
  }
}

function onNotification(message) {
  const params = message.params || {};
  switch (message.method) {
    case 'ui/notifications/tool-input': onToolInput(params); break;
    case 'ui/notifications/tool-result': onToolResult(params); break;
    case 'ui/notifications/tool-cancelled': onToolCancelled(params); break;
    case 'ui/notifications/host-context-changed':
      context = { ...context, ...params };
      applyContext();
      break;
    default: break; // tool-input-partial and whatever comes later: nothing to do
  }
}

window.addEventListener('message', (event) => {
  if (event.source !== window.parent) return;
  const message = event.data;
  if (!message || message.jsonrpc !== '2.0') return;
  if (message.method && message.id !== undefined && message.id !== null) onRequest(message);
  else if (message.method) onNotification(message);
  else if (pending.has(message.id)) {
    const { resolve, reject } = pending.get(message.id);
    pending.delete(message.id);
    if ('error' in message) reject(message.error);
    else resolve(message.result);
  }
});

applyContext(); // the default height, on the document element, before the host answers
request('ui/initialize', {
  appInfo: { name: 'mapsrv', version: cfg.version },
  appCapabilities: { availableDisplayModes: MODES },
  protocolVersion: APPS_PROTOCOL,
}).then((result) => {
  hostCapabilities = (result && result.hostCapabilities) || {};
  context = (result && result.hostContext) || {};
  ready = true;
  notify('ui/notifications/initialized', {});
  applyContext();
}, (error) => {
  statusEl.textContent = 'the host refused the app';
  say('The host refused to start the map: ' + ((error && error.message) || 'no reason given'));
});

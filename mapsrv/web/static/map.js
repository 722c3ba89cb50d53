/* mapsrv live map page: the map, its panel, and staying connected. Wire contract: docs/protocol.md.
 *
 * The map's state is drawn by render.js (shared with the MCP App). This module exports `page`,
 * what the page's other modules (notice, write, edit, draw, activity, people) build on: the
 * config, the map, the offline world map, the drawn features and layers, hooks, and the
 * functions those modules add to it. They are evaluated in the same task as this one, which
 * opens the stream: its events are handled in later tasks, once every module has hooked in.
 */

import { EventStream } from './stream.js';
import { byId, escapeHtml, textNode } from './dom.js';
import { createRenderer } from './render.js';
import { drawnPoints } from './points.js';
import { firstDrawing, useOfflineWorld } from './basemap.js';

const FIT_PADDING = [40, 40];
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 15000;

const ds = document.body.dataset;
const cfg = {
  events: ds.events || '',
  mode: ds.mode === 'view' ? 'view' : 'edit',
  mapId: ds.mapId || '',
  viewUrl: ds.viewUrl || '',
  tileUrl: ds.tileUrl || '',
  tileAttribution: ds.tileAttribution || '',
  geojson: ds.geojson || '',
  mcpUrl: ds.mcpUrl || '',
  actor: ds.actor || '',
  // owner (/m/<id>), editor (/e/<edit key>: never sees the map id) or viewer (/v/<view key>)
  role: ds.role || (ds.mode === 'view' ? 'viewer' : 'owner'),
  editUrl: ds.editUrl || '',
  name: ds.name || '',
  suggestedName: ds.suggestedName || '',
  basemaps: basemapsOf(ds.basemaps),
};
// The street basemaps the server offers (data-basemaps, JSON): none when absent or unreadable.
function basemapsOf(text) {
  try {
    const list = JSON.parse(text || '[]');
    return Array.isArray(list) ? list : [];
  } catch (error) {
    console.error('mapsrv: data-basemaps is not JSON', error);
    return [];
  }
}
// Every read of this map goes through its own prefix: /m/<id> (edit) or /v/<key> (view).
cfg.prefix = cfg.events.replace(/\/events$/, '');

// ---------------------------------------------------------------- map

L.Icon.Default.imagePath = '/static/leaflet/images/';

const map = L.map('map', { keyboard: true });
let tiles = null;
if (cfg.tileUrl) {
  // The attribution control renders HTML; the server hands us plain text.
  tiles = L.tileLayer(cfg.tileUrl, { attribution: escapeHtml(cfg.tileAttribution) }).addTo(map);
}

// Fitted features stay clear of the panel floating over the map's top edge.
function fitOptions() {
  const panel = byId('panel');
  const top = panel ? panel.getBoundingClientRect().bottom : 0;
  return { paddingTopLeft: [FIT_PADDING[0], Math.max(FIT_PADDING[1], top + 12)], paddingBottomRight: FIT_PADDING };
}

// The page's own hooks; the drawing ones (snapshot, change, feature, ...) are the renderer's.
const pageHooks = { gone: [], presence: [], pointers: [], access: [] };
function emit(name, ...args) {
  for (const fn of pageHooks[name]) {
    try { fn(...args); } catch (err) { console.error('mapsrv: ' + name + ' hook failed', err); }
  }
}

const drawing = {
  fitOptions: fitOptions,
  // What floats over the map: a label under it could not be read, so none goes there.
  covers: '#panel, #toolbar, #tiles-banner, #editor, #conflict, #replay, #help, .leaflet-control',
};
const view = createRenderer(map, Object.assign({
  editable: cfg.mode === 'edit',
  // Enter on a shown label selects its feature (edit.js), unless a drawing tool is active.
  activate: (id) => { if (!page.tool && page.select) page.select(id); },
  selectedId: () => (page.selectedId ? page.selectedId() : null),
}, drawing));
// The map as it was at a version (activity.js's history slider), drawn as the live map is, labels
// and clusters included, while the live one is off the map.
const history = createRenderer(map, Object.assign({ live: false }, drawing));
view.applyView(null, []);
// Natural Earth's countries under the tiles, and the street basemaps over them: the map when there
// are no tiles, or they do not come; drawn once the map's own features are.
const world = useOfflineWorld(map, tiles, { after: firstDrawing(view), basemaps: cfg.basemaps });

// ---------------------------------------------------------------- title & panel

const titleEl = byId('map-title');

function setTitle(title) {
  const text = typeof title === 'string' ? title : '';
  document.title = text || 'mapsrv';
  titleEl.textContent = text || 'Untitled map';
  titleEl.classList.toggle('untitled', !text);
}

function selectText(el) {
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
}

// Copies `el`'s text; `button` says whether it worked.
async function copyText(button, el) {
  const text = el.textContent;
  let copied = false;
  if (navigator.clipboard && navigator.clipboard.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch (err) { /* not allowed here: fall back to selecting the text */ }
  }
  if (!copied) {
    selectText(el);
    try { copied = document.execCommand('copy'); } catch (err) { copied = false; }
  }
  // When nothing could be copied the text stays selected for the user to copy by hand.
  button.textContent = copied ? 'Copied' : 'Selected';
  clearTimeout(button.mapsrvReset);
  button.mapsrvReset = setTimeout(() => { button.textContent = 'Copy'; }, 1500);
}

function copyCode() {
  return copyText(byId('copy-code'), byId('map-code'));
}

function setupPanel() {
  setTitle(document.title);
  const editTools = byId('edit-tools');
  if (cfg.mode === 'edit') {
    editTools.hidden = false;
    if (cfg.mapId) {
      byId('map-code').textContent = cfg.mapId;
      byId('copy-code').addEventListener('click', copyCode);
    } else {
      byId('map-code').parentElement.hidden = true; // an editor: the map id is the owner's
    }
    const link = byId('view-link');
    if (cfg.viewUrl) {
      link.href = cfg.viewUrl;
      link.textContent = new URL(cfg.viewUrl, window.location.href).href;
    } else {
      byId('view-row').hidden = true;
    }
  } else {
    editTools.remove();
  }
  const exportLink = byId('export-link');
  if (cfg.geojson) exportLink.href = cfg.geojson;
  else exportLink.hidden = true;
}

// ---------------------------------------------------------------- applying server messages

view.on('title', setTitle);

// ---------------------------------------------------------------- connection

const badge = byId('conn');
let connState = 'connecting';
let source = null;
let retryDelay = BACKOFF_MIN_MS;
let retryTimer = null;

function setConnState(state) {
  connState = state;
  badge.textContent = state;
  badge.className = 'badge conn-' + state;
}

// The stream never says why it failed. A map that is gone answers its own state URL with
// 404 ('expired') or, deleted by its owner, 410 ('deleted'): then the page says so and stops
// retrying. A server that does not answer at all is only "reconnecting" (false).
async function isGone() {
  try {
    const response = await fetch(cfg.prefix + '/state', { headers: { Accept: 'application/json' } });
    if (response.status === 410) return 'deleted';
    return response.status === 404 ? 'expired' : false;
  } catch (err) {
    return false;
  }
}

function markGone(why) {
  if (source) source.close();
  source = null;
  clearTimeout(retryTimer);
  retryTimer = null;
  if (connState === 'gone') return;
  setConnState('gone');
  emit('gone', why === 'deleted' ? 'deleted' : 'expired');
}

function scheduleReopen() {
  if (retryTimer) return;
  const delay = retryDelay;
  retryDelay = Math.min(retryDelay * 2, BACKOFF_MAX_MS);
  retryTimer = setTimeout(() => {
    retryTimer = null;
    connect();
  }, delay);
}

// The stream (stream.js, EventSource's rules) retries by itself, sending Last-Event-ID, while
// readyState is CONNECTING; it gives up for good (CLOSED) on e.g. an HTTP error status, and
// then a fresh one is opened, which the server answers with a snapshot.
function connect() {
  const es = new EventStream(cfg.events);
  source = es;
  es.addEventListener('open', () => {
    if (source !== es) return;
    retryDelay = BACKOFF_MIN_MS;
    setConnState(cfg.mode === 'view' ? 'view-only' : 'live');
  });
  es.addEventListener('error', () => {
    if (source !== es) return;
    setConnState('reconnecting');
    if (es.readyState === EventStream.CLOSED) {
      es.close();
      source = null;
      isGone().then((gone) => {
        if (gone) markGone(gone);
        else scheduleReopen();
      });
    }
  });
  es.addJsonListener('snapshot', view.snapshot);
  es.addJsonListener('change', view.changes);
  // Not versions of the map: who is here (presence.js), and this page losing its edit right.
  es.addJsonListener('presence', (payload) => emit('presence', payload));
  es.addJsonListener('pointers', (payload) => emit('pointers', payload));
  es.addJsonListener('access', (payload) => emit('access', payload));
}

// ---------------------------------------------------------------- start

// For embedders, tests and tools: what the page shows (read-only; not shared between modules).
window.mapsrv = {
  get version() { return view.version; },
  get state() { return connState; },
  get big() { return view.big; },
  get tool() { return page.tool; },
  featureIds: () => Array.from(view.features.keys()),
  layerIds: () => Array.from(view.layers.keys()),
  feature: (id) => { const entry = view.features.get(id); return entry ? entry.data : null; },
  // where the feature's point is on screen (container pixels), or null
  featurePoint: (id) => {
    const entry = view.features.get(id);
    if (!entry || !entry.layer.getLatLng) return null;
    const p = map.latLngToContainerPoint(entry.layer.getLatLng());
    return [p.x, p.y];
  },
  shownLabels: () => view.shownLabels(),
  // each shown label's [feature id, x0, y0, x1, y1] in layer pixels
  labelBoxes: () => view.labelBoxes(),
  placeLabels: () => view.placeLabels(),
  selectedId: () => (page.selectedId ? page.selectedId() : null),
  drawnPoints: () => drawnPoints(map),
  map: map,
};

export const page = {
  cfg: cfg,
  map: map,
  tiles: tiles,
  world: world,
  view: view,
  history: history,
  features: view.features,
  layers: view.layers,
  get version() { return view.version; },
  get connState() { return connState; },
  get big() { return view.big; },
  on: (name, fn) => (pageHooks[name] ? pageHooks[name].push(fn) : view.on(name, fn)),
  byId: byId,
  textNode: textNode,
  copyText: copyText,
  placeLabels: view.placeLabels,
  markGone: markGone,
  hold: view.hold,
  isHeld: view.isHeld,
  release: view.release,
  isGone: isGone,
};

setupPanel();
// Now, not at DOMContentLoaded: the page's modules are one graph, evaluated in this same task,
// so every module has hooked in before the stream's first byte can be handled (waiting for
// DOMContentLoaded held the stream back until the last module file had come).
if (cfg.events) connect();
else setConnState('reconnecting');

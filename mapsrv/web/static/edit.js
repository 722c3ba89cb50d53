/* mapsrv page: a person's edits (edit link only). Selecting a feature, its label and popup in
 * the editor, dragging markers and vertices (or moving them with the arrow keys), moving a whole
 * shape by its move handle, deleting; the writes go through page.write (write.js). A feature of
 * several parts (shapes.js) is selected, moved and written as one. Agent text only ever reaches
 * the DOM as text.
 */
import { page } from './map.js';
import { elementsOf } from './render.js';
import { flatPoints, movedCoords, partCount, shiftedCoords, vertexPaths } from './shapes.js';

const { cfg, map, byId } = page;
const NUDGE_PX = 10;
const NUDGE_FAR_PX = 50;
// Vertex handles are an element each: past this a shape is only moved whole (and the toast says).
const MAX_HANDLES = 500;

page.replaying = false;
page.tool = null;

// ---------------------------------------------------------------- selection and the editor

const editor = byId('editor');
const handles = L.layerGroup().addTo(map);
let selected = null; // {id, base}

// The Leaflet layers a feature is drawn with: its own, or its parts' (a group has no style).
function drawnLayers(layer) {
  return layer instanceof L.FeatureGroup ? layer.getLayers().flatMap(drawnLayers) : [layer];
}

let lit = []; // a feature drawn on the canvas (no element to style) shown as selected: [layer, its style]

function markSelected() {
  document.querySelectorAll('.mapsrv-selected').forEach((el) => el.classList.remove('mapsrv-selected'));
  for (const [layer, style] of lit) layer.setStyle(style);
  lit = [];
  const entry = selected ? page.features.get(selected.id) : null;
  if (!entry) return placeLabels();
  const els = elementsOf(entry.layer);
  els.forEach((el) => el.classList.add('mapsrv-selected'));
  if (!els.length) {
    for (const layer of drawnLayers(entry.layer)) {
      if (!layer.setStyle) continue;
      lit.push([layer, { color: layer.options.color, weight: layer.options.weight }]);
      layer.setStyle({ color: '#f59e0b', weight: 3 });
    }
  }
  placeLabels();
}

function placeLabels() {
  if (page.placeLabels) page.placeLabels(); // the selected feature's label comes first
}

page.select = function (id) {
  const entry = page.features.get(id);
  if (!entry || page.replaying) return;
  const f = entry.data;
  selected = { id: id, base: page.version, label: f.label || '', popup: f.popup || '' };
  const note = f.layer === 'notes';
  const { parts, holes } = partCount(f);
  const counts = [parts > 1 ? parts + ' parts' : '', holes ? holes + (holes > 1 ? ' holes' : ' hole') : ''];
  const what = counts.filter(Boolean).join(', ');
  byId('editor-title').textContent = note ? 'Note' : 'Edit ' + f.type + (what ? ' (' + what + ')' : '');
  byId('editor-popup-name').textContent = note ? 'Note for the assistant' : 'Popup text';
  byId('editor-label').value = f.label || '';
  byId('editor-popup').value = f.popup || '';
  editor.hidden = false;
  markSelected();
  showHandles();
};

page.deselect = function () {
  selected = null;
  editor.hidden = true;
  handles.clearLayers();
  markSelected();
};

page.selectedId = () => (selected ? selected.id : null);

page.deleteSelected = async function () {
  if (!selected) return;
  const { id, base } = selected;
  page.deselect();
  await page.write([{ op: 'remove_features', ids: [id] }], base);
};

editor.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!selected) return;
  const { id, base } = selected;
  const entry = page.features.get(id);
  const popup = byId('editor-popup').value;
  let label = byId('editor-label').value;
  if (entry && entry.data.layer === 'notes' && !label) label = popup.slice(0, 40);
  // Only what the person changed: an edit of the label does not carry a stale popup along.
  const op = { op: 'update_feature', id: id };
  if (label !== selected.label) op.label = label;
  if (popup !== selected.popup) op.popup = popup;
  if (op.label === undefined && op.popup === undefined) {
    page.deselect();
    return;
  }
  const saved = await page.write([op], base);
  if (selected && selected.id === id) page.deselect();
  if (saved) page.toast('Saved.');
});
byId('editor-delete').addEventListener('click', () => page.deleteSelected());
byId('editor-close').addEventListener('click', () => page.deselect());

// ---------------------------------------------------------------- moving points

// Where a drag or a nudge took something: its vertex at `path` (shapes.js's vertexPaths), or the
// whole feature when `path` is null and `latlng` is [dLat, dLon].
async function moveTo(id, path, latlng, base) {
  const entry = page.features.get(id);
  if (!entry) {
    page.release(id, false); // removed meanwhile
    return;
  }
  const f = entry.data;
  const coords = path ? movedCoords(f, path, latlng) : shiftedCoords(f, latlng[0], latlng[1]);
  const moved = await page.write([{ op: 'update_feature', id: id, coords: coords }], base);
  // Refused, or the person kept the other change: back to where the map has it. Moved: the
  // write's own event redraws it, or did during the hold (then its handles follow it now).
  page.release(id, !moved);
  const drawn = typeof moved === 'number' && page.version >= moved;
  if (drawn && selected && selected.id === id) markSelected();
  if (!moved || drawn) showHandles();
}

function dragging(target, id, path, getBase) {
  target.on('dragstart', () => { page.hold(id); getBase.start(); });
  target.on('dragend', () => moveTo(id, path, target.getLatLng(), getBase.value()));
}

function baseClock() {
  let base = page.version;
  return { start: () => { base = page.version; }, value: () => base };
}

// Arrow keys move a focused marker or vertex (Shift: farther), for people without a mouse.
function nudgeKeys(marker, commit) {
  const el = marker.getElement();
  if (!el) return;
  el.addEventListener('keydown', (event) => {
    const step = event.shiftKey ? NUDGE_FAR_PX : NUDGE_PX;
    const d = { ArrowUp: [0, -step], ArrowDown: [0, step], ArrowLeft: [-step, 0], ArrowRight: [step, 0] }[event.key];
    if (!d || page.replaying) return;
    event.preventDefault();
    event.stopPropagation();
    const point = map.latLngToContainerPoint(marker.getLatLng()).add(L.point(d[0], d[1]));
    const latlng = map.containerPointToLatLng(point);
    marker.setLatLng(latlng);
    commit(latlng, page.version);
  });
}

function showHandles() {
  handles.clearLayers();
  if (!selected) return;
  const entry = page.features.get(selected.id);
  if (!entry) return;
  const f = entry.data;
  if (entry.layer instanceof L.Marker) return; // the marker itself is draggable
  const vertices = vertexPaths(f);
  if (vertices.length > 1) handles.addLayer(moveHandle(entry, f));
  if (vertices.length > MAX_HANDLES) {
    if (selected.toasted !== f.id) page.toast('This shape has ' + vertices.length.toLocaleString('en-US') + ' points: drag its ✥ handle to move it whole.');
    selected.toasted = f.id;
    return;
  }
  vertices.forEach(([path, p], index) => {
    const handle = L.marker(p, {
      draggable: true,
      keyboard: true,
      title: f.type === 'marker' ? 'Move this marker' : 'Point ' + (index + 1) + ' of ' + (f.label || f.type),
      icon: L.divIcon({ className: 'mapsrv-handle', iconSize: [14, 14] }),
    });
    dragging(handle, f.id, path, baseClock());
    handle.on('add', () => {
      const el = handle.getElement();
      if (!el) return;
      el.dataset.handle = f.id + ':' + path.join('.');
      nudgeKeys(handle, (latlng, b) => moveTo(f.id, path, latlng, b));
      refocus(el, 'handle:' + el.dataset.handle);
    });
    handles.addLayer(handle);
  });
}

// The handle that moves a whole shape, every part and hole by the same [dLat, dLon]: just under
// its label's place (a line's or an area's; on it, the label would cover it), or up and right of
// the middle of its points (a point may be there, with its own handle). While it is dragged, an
// outline of the shape follows it.
function moveHandle(entry, f) {
  const place = page.view.labelPlace(entry.layer, f);
  const points = place.kind === 'point';
  const start = points ? L.latLngBounds(flatPoints(f)).getCenter() : page.view.labelLatLng(place);
  const handle = L.marker(start, {
    draggable: true,
    keyboard: true,
    title: 'Move ' + (f.label || 'this ' + f.type) + ' whole',
    icon: L.divIcon({
      className: 'mapsrv-move',
      html: page.textNode('span', '', '✥'),
      iconSize: [22, 22],
      iconAnchor: points ? [-9, 31] : [11, -16],
    }),
  });
  const delta = () => [handle.getLatLng().lat - start.lat, handle.getLatLng().lng - start.lng];
  let ghost = null;
  let frame = 0;
  const follow = () => {
    frame = 0;
    if (ghost) handles.removeLayer(ghost);
    const [dy, dx] = delta();
    const shape = { id: f.id, type: f.type, coords: shiftedCoords(f, dy, dx), radius: f.radius, layer: '', style: GHOST };
    ghost = page.view.buildLeafletLayer(shape); // layer '': no map layer's style
    drawnLayers(ghost).forEach((layer) => { layer.options.interactive = false; });
    handles.addLayer(ghost);
  };
  const base = baseClock();
  handle.on('dragstart', () => { page.hold(f.id); base.start(); });
  handle.on('drag', () => { if (!frame) frame = requestAnimationFrame(follow); });
  handle.on('dragend', () => {
    cancelAnimationFrame(frame);
    frame = 0;
    moveTo(f.id, null, delta(), base.value());
  });
  handle.on('add', () => {
    const el = handle.getElement();
    if (!el) return;
    el.dataset.handle = f.id + ':move';
    nudgeKeys(handle, () => moveTo(f.id, null, delta(), page.version));
    refocus(el, 'handle:' + el.dataset.handle);
  });
  return handle;
}
const GHOST = { color: '#f97316', weight: 2, dash: '6 4', fill_opacity: 0.1 };

// ---------------------------------------------------------------- keeping the focus

// A change redraws a feature (and its handles) with new elements: the keyboard focus would
// fall back to the page after every arrow-key nudge. The last focused feature or handle gets
// it back when it is drawn again and nothing else took it meanwhile.
let focused = null; // 'feature:<id>' or 'handle:<id>:<index>'

document.addEventListener('focusin', (event) => {
  const el = event.target;
  if (!(el instanceof Element)) return;
  if (el.dataset.featureId) focused = 'feature:' + el.dataset.featureId;
  else if (el.dataset.handle) focused = 'handle:' + el.dataset.handle;
  else focused = null;
});

function refocus(el, key) {
  const lost = !document.activeElement || document.activeElement === document.body;
  if (focused === key && lost) el.focus({ preventScroll: true });
}

// ---------------------------------------------------------------- every feature drawn

const KINDS = { polyline: 'line', polygon: 'area', multipolyline: 'line', multipolygon: 'area', multipoint: 'points', collection: 'shapes' };

function describe(f) {
  const kind = f.layer === 'notes' ? 'note' : KINDS[f.type] || f.type;
  const { parts } = partCount(f);
  return kind + (parts > 1 ? ' of ' + parts + ' parts' : '') + (f.label ? ': ' + f.label : '');
}

page.on('feature', (layer, f) => {
  if (cfg.mode !== 'edit') return;
  layer.on('click', (event) => {
    if (page.tool || page.replaying) return;
    L.DomEvent.stopPropagation(event);
    page.select(f.id);
  });
  if (!page.big) layer.on('add', () => {
    const [el, ...others] = elementsOf(layer); // a shape of several parts is one stop for Tab
    if (!el) return; // drawn on a canvas
    if (selected && selected.id === f.id) others.forEach((part) => part.classList.add('mapsrv-selected'));
    // SVG paths are not focusable by themselves: Tab reaches every feature, Enter selects it.
    if (!el.hasAttribute('tabindex')) el.setAttribute('tabindex', '0');
    el.setAttribute('role', 'button');
    el.setAttribute('aria-label', describe(f));
    el.addEventListener('keydown', (event) => {
      if ((event.key === 'Enter' || event.key === ' ') && !page.tool) {
        event.preventDefault();
        page.select(f.id);
      }
    });
    if (selected && selected.id === f.id) el.classList.add('mapsrv-selected');
    refocus(el, 'feature:' + f.id);
    if (layer instanceof L.Marker && layer.dragging && !page.replaying) {
      layer.dragging.enable();
      nudgeKeys(layer, (latlng, base) => moveTo(f.id, [], latlng, base));
    }
  });
  if (layer instanceof L.Marker) {
    dragging(layer, f.id, [], baseClock());
  }
});

// Once a batch of changes (each marks the selection and places the labels again).
let changed = false;
page.on('change', () => { changed = true; });
page.on('applied', () => {
  if (!changed) return;
  changed = false;
  if (!selected || page.isHeld(selected.id)) return; // its handles are being dragged
  if (!page.features.has(selected.id)) {
    page.deselect();
    page.toast('The feature you were editing was removed.');
    return;
  }
  markSelected();
  showHandles();
});
page.on('snapshot', () => {
  if (selected && !page.features.has(selected.id)) page.deselect();
  else if (selected) showHandles();
});

page.setEditable = function (on) {
  for (const entry of page.features.values()) {
    if (entry.layer instanceof L.Marker && entry.layer.dragging) {
      if (on) entry.layer.dragging.enable();
      else entry.layer.dragging.disable();
    }
  }
  if (!on) page.deselect();
};

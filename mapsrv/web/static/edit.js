/* mapsrv page: a person's edits (edit link only). Selecting a feature, its label and popup in
 * the editor, dragging markers and vertices (or moving them with the arrow keys), deleting; the
 * writes go through page.write (write.js). Agent text only ever reaches the DOM as text.
 */
import { page } from './map.js';

const { cfg, map, byId } = page;
const NUDGE_PX = 10;
const NUDGE_FAR_PX = 50;

page.replaying = false;
page.tool = null;

// ---------------------------------------------------------------- selection and the editor

const editor = byId('editor');
const handles = L.layerGroup().addTo(map);
let selected = null; // {id, base}

function elementOf(id) {
  const entry = page.features.get(id);
  if (!entry) return null;
  return entry.layer.getElement ? entry.layer.getElement() : entry.layer._icon;
}

let lit = null; // a feature drawn on the canvas (no element to style) shown as selected: [layer, its style]

function markSelected() {
  document.querySelectorAll('.mapsrv-selected').forEach((el) => el.classList.remove('mapsrv-selected'));
  if (lit) lit[0].setStyle(lit[1]);
  lit = null;
  const el = selected && elementOf(selected.id);
  if (el) el.classList.add('mapsrv-selected');
  const entry = selected && !el ? page.features.get(selected.id) : null;
  if (entry && entry.layer.setStyle) {
    lit = [entry.layer, { color: entry.layer.options.color, weight: entry.layer.options.weight }];
    entry.layer.setStyle({ color: '#f59e0b', weight: 3 });
  }
  if (page.placeLabels) page.placeLabels(); // the selected feature's label comes first
}

page.select = function (id) {
  const entry = page.features.get(id);
  if (!entry || page.replaying) return;
  const f = entry.data;
  selected = { id: id, base: page.version, label: f.label || '', popup: f.popup || '' };
  const note = f.layer === 'notes';
  byId('editor-title').textContent = note ? 'Note' : 'Edit ' + f.type;
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

function movedCoords(f, index, latlng) {
  const p = [round(latlng.lat), round(latlng.lng)];
  if (f.type === 'marker' || f.type === 'circle') return p;
  const coords = f.coords.map((q) => q.slice());
  coords[index] = p;
  if (f.type === 'rectangle') {
    const [a, b] = coords;
    return [[Math.min(a[0], b[0]), Math.min(a[1], b[1])], [Math.max(a[0], b[0]), Math.max(a[1], b[1])]];
  }
  return coords;
}

function round(x) { return Math.round(x * 1e6) / 1e6; }

function points(f) {
  return f.type === 'marker' || f.type === 'circle' ? [f.coords] : f.coords;
}

async function moveTo(id, index, latlng, base) {
  const entry = page.features.get(id);
  if (!entry) {
    page.release(id, false); // removed meanwhile
    return;
  }
  const coords = movedCoords(entry.data, index, latlng);
  const moved = await page.write([{ op: 'update_feature', id: id, coords: coords }], base);
  // Refused, or the person kept the other change: back to where the map has it. Moved: the
  // write's own event redraws it.
  page.release(id, !moved);
  if (!moved) showHandles();
}

function dragging(target, id, index, getBase) {
  target.on('dragstart', () => { page.hold(id); getBase.start(); });
  target.on('dragend', () => moveTo(id, index, target.getLatLng(), getBase.value()));
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
  points(f).forEach((p, index) => {
    const handle = L.marker(p, {
      draggable: true,
      keyboard: true,
      title: f.type === 'marker' ? 'Move this marker' : 'Point ' + (index + 1) + ' of ' + (f.label || f.type),
      icon: L.divIcon({ className: 'mapsrv-handle', iconSize: [14, 14] }),
    });
    dragging(handle, f.id, index, baseClock());
    handle.on('add', () => {
      const el = handle.getElement();
      if (!el) return;
      el.dataset.handle = f.id + ':' + index;
      nudgeKeys(handle, (latlng, b) => moveTo(f.id, index, latlng, b));
      refocus(el, 'handle:' + el.dataset.handle);
    });
    handles.addLayer(handle);
  });
}

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

function describe(f) {
  const kind = f.layer === 'notes' ? 'note' : { polyline: 'line', polygon: 'area' }[f.type] || f.type;
  return kind + (f.label ? ': ' + f.label : '');
}

page.on('feature', (layer, f) => {
  if (cfg.mode !== 'edit') return;
  layer.on('click', (event) => {
    if (page.tool || page.replaying) return;
    L.DomEvent.stopPropagation(event);
    page.select(f.id);
  });
  if (!page.big) layer.on('add', () => {
    const el = layer.getElement ? layer.getElement() : layer._icon;
    if (!el) return; // drawn on a canvas
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
      nudgeKeys(layer, (latlng, base) => moveTo(f.id, 0, latlng, base));
    }
  });
  if (layer instanceof L.Marker) {
    dragging(layer, f.id, 0, baseClock());
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

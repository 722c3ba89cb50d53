/* mapsrv: a big map's labels (render.js draws a map of many features on one canvas, without a
 * tooltip per feature), on the page and in the MCP App.
 *
 * A label is shown only where it fits: the labels whose place is on screen are taken by priority
 * (the selected feature's, then the most recently drawn), and each goes to the first of its spots
 * (right of a point, left, above, below; the middle of a line or area) that is on screen and
 * overlaps no label shown before it nor the panels over the map, which a grid of screen cells
 * finds among the few nearby. Placed again after
 * every move, zoom and drawn change; a label that did not fit shows while the pointer is on its
 * feature. Widths come from the canvas's text metrics, never from the layout, and the text only
 * ever goes in through textContent.
 */

import { PointRef, clusterBoxes, preparePoints } from './points.js';
import { textNode } from './dom.js';

const HEIGHT = 20; // px: .mapsrv-placed in render.css
const FRAME = 16; // px: its padding and borders, left and right
const MAX_WIDTH = 220; // px: a longer text ends in an ellipsis
const GAP = 3; // px between a point and its label
const CELL = 128; // px: the grid's cells
const MAX_SHOWN = 400; // more would not be read, and each costs an element

// The labels of `view` (render.js). Options: `covers`, a selector of what floats over the map (a
// label under it could not be read, so none goes there); `activate(id)`, when given, makes each
// shown label a button that calls it (on the edit page: how the keyboard reaches a feature the
// canvas drew); `selectedId()`, whose label goes first.
export function createLabels(view, options) {
  const { map } = view;
  const pane = map.createPane('mapsrvLabels');
  const entries = new Map(); // feature id -> {id, text, latlng, layerId, radius, seq, width, ...}
  const pool = []; // label elements not in use
  let shown = []; // the entries with an element on screen
  let seq = 0;
  let dirty = false;
  let zooming = false;
  let scheduled = false;
  let metrics = null; // a 2D context set to the labels' font
  let hoverEl = null;

  function makeElement() {
    const el = document.createElement('div');
    el.className = 'mapsrv-label mapsrv-placed';
    el.appendChild(textNode('span', 'mapsrv-label-text', ''));
    return el;
  }

  // On the edit page a shown label is how the keyboard reaches a feature the canvas drew: Tab
  // to it, Enter selects the feature (its handle then moves it with the arrow keys).
  function makeLabel() {
    const el = makeElement();
    if (!options.activate) return el;
    el.tabIndex = 0;
    el.setAttribute('role', 'button');
    el.addEventListener('keydown', (event) => {
      if ((event.key === 'Enter' || event.key === ' ') && el.dataset.featureLabel) {
        event.preventDefault();
        options.activate(el.dataset.featureLabel);
      }
    });
    return el;
  }

  // A text's width, as the sum of its characters' (each measured once): measuring every label
  // took more time than placing them all, and the ellipsis covers the kerning it ignores.
  const charWidths = new Map();
  function textWidth(text) {
    if (!metrics) {
      const probe = makeLabel();
      pane.appendChild(probe);
      const font = getComputedStyle(probe.firstChild).font;
      probe.remove();
      pool.push(probe);
      metrics = document.createElement('canvas').getContext('2d');
      metrics.font = font;
    }
    let width = 0;
    for (const c of text) {
      let w = charWidths.get(c);
      if (w === undefined) {
        w = metrics.measureText(c).width;
        charWidths.set(c, w);
      }
      width += w;
    }
    return width;
  }

  function widthOf(entry) {
    if (!entry.width) entry.width = Math.min(MAX_WIDTH, Math.ceil(textWidth(entry.text)) + FRAME + 2);
    return entry.width;
  }

  // Top-left corners to try, best first, around the entry's point (x, y) on the layer.
  function spots(entry) {
    const w = widthOf(entry);
    const { x, y, radius } = entry;
    if (radius < 0) return [[x - w / 2, y - HEIGHT / 2]];
    const r = radius + GAP;
    return [[x + r, y - HEIGHT / 2], [x - r - w, y - HEIGHT / 2], [x - w / 2, y - r - HEIGHT], [x - w / 2, y + r]];
  }

  // Grid cells by number: a box's cells are [cx0, cx1] x [cy0, cy1].
  const cellKey = (cx, cy) => cx * 65536 + cy;

  function fits(grid, box) {
    const cx1 = Math.floor(box[2] / CELL);
    const cy1 = Math.floor(box[3] / CELL);
    for (let cx = Math.floor(box[0] / CELL); cx <= cx1; cx += 1) {
      for (let cy = Math.floor(box[1] / CELL); cy <= cy1; cy += 1) {
        const cell = grid.get(cellKey(cx, cy));
        if (!cell) continue;
        for (const b of cell) {
          if (b[0] < box[2] && box[0] < b[2] && b[1] < box[3] && box[1] < b[3]) return false;
        }
      }
    }
    return true;
  }

  function insert(grid, box) {
    const cx1 = Math.floor(box[2] / CELL);
    const cy1 = Math.floor(box[3] / CELL);
    for (let cx = Math.floor(box[0] / CELL); cx <= cx1; cx += 1) {
      for (let cy = Math.floor(box[1] / CELL); cy <= cy1; cy += 1) {
        const key = cellKey(cx, cy);
        const cell = grid.get(key);
        if (cell) cell.push(box);
        else grid.set(key, [box]);
      }
    }
  }

  function release(entry) {
    if (!entry.el) return;
    entry.el.remove();
    pool.push(entry.el);
    entry.el = null;
  }

  function place() {
    scheduled = false;
    dirty = false;
    if (!view.big || zooming || entries.size === 0) {
      shown.forEach(release);
      shown = [];
      return;
    }
    const zoom = map.getZoom();
    const origin = map.getPixelOrigin();
    const topLeft = map.containerPointToLayerPoint([0, 0]);
    const size = map.getSize();
    const [left, top, right, bottom] = [topLeft.x, topLeft.y, topLeft.x + size.x, topLeft.y + size.y];
    const onMap = new Set();
    for (const [id, entry] of view.layers) if (map.hasLayer(entry.group)) onMap.add(id);
    preparePoints(map); // which points are in a cluster at this zoom
    const scale = 256 * Math.pow(2, zoom);
    const candidates = [];
    for (const entry of entries.values()) {
      if (!onMap.has(entry.layerId)) continue;
      const point = entry.point;
      if (point && point.clustered) continue; // a cluster has no labels
      if (entry.zoom !== zoom) { // projected once per zoom level, not on every pan
        if (point) {
          entry.px = Math.round(point.mx * scale);
          entry.py = Math.round(point.my * scale);
        } else {
          const p = map.project(entry.latlng, zoom);
          entry.px = Math.round(p.x);
          entry.py = Math.round(p.y);
        }
        entry.zoom = zoom;
      }
      const x = entry.px - origin.x;
      const y = entry.py - origin.y;
      if (x < left || x > right || y < top || y > bottom) continue;
      entry.x = x;
      entry.y = y;
      candidates.push(entry);
    }
    const selected = options.selectedId ? options.selectedId() : null;
    candidates.sort((a, b) => (b.id === selected) - (a.id === selected) || b.seq - a.seq);
    const grid = new Map();
    const corner = map.getContainer().getBoundingClientRect();
    for (const el of document.querySelectorAll(options.covers)) {
      if (el.hidden) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const x = r.left - corner.left + left;
      const y = r.top - corner.top + top;
      insert(grid, [Math.floor(x), Math.floor(y), Math.ceil(x + r.width), Math.ceil(y + r.height)]);
    }
    for (const box of clusterBoxes(map)) insert(grid, box);
    const next = [];
    for (const entry of candidates) {
      if (next.length >= MAX_SHOWN) break;
      for (const [bx, by] of spots(entry)) {
        const box = [Math.round(bx), Math.round(by), Math.round(bx) + entry.width, Math.round(by) + HEIGHT];
        if (box[0] < left || box[1] < top || box[2] > right || box[3] > bottom || !fits(grid, box)) continue;
        insert(grid, box);
        entry.box = box;
        next.push(entry);
        break;
      }
    }
    render(next);
  }

  function render(next) {
    const keep = new Set(next);
    for (const entry of shown) if (!keep.has(entry)) release(entry);
    for (const entry of next) {
      if (!entry.el) {
        entry.el = pool.pop() || makeLabel();
        entry.el.firstChild.textContent = entry.text;
        entry.el.style.width = entry.width + 'px';
        entry.el.dataset.featureLabel = entry.id;
        pane.appendChild(entry.el);
      }
      entry.el.style.transform = 'translate(' + entry.box[0] + 'px,' + entry.box[1] + 'px)';
    }
    shown = next;
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { if (scheduled) place(); });
  }

  function hover(id) {
    if (hoverEl) hoverEl.hidden = true;
    const entry = id == null ? null : entries.get(id);
    if (!entry || entry.el || zooming) return;
    if (!hoverEl) {
      hoverEl = makeElement();
      hoverEl.classList.add('mapsrv-label-hover');
      pane.appendChild(hoverEl);
    }
    const p = map.latLngToLayerPoint(entry.latlng);
    entry.x = p.x;
    entry.y = p.y;
    const [bx, by] = spots(entry)[0];
    hoverEl.firstChild.textContent = entry.text;
    hoverEl.style.width = entry.width + 'px';
    hoverEl.style.transform = 'translate(' + Math.round(bx) + 'px,' + Math.round(by) + 'px)';
    hoverEl.hidden = false;
  }

  view.on('feature', (layer, f) => {
    if (!view.big || !f.label) return;
    const id = String(f.id);
    const place = view.labelPlace(layer, f); // one label per feature, on its largest part
    entries.set(id, {
      id: id,
      text: String(f.label),
      latlng: place.latlng,
      layerId: f.layer != null ? String(f.layer) : 'default',
      radius: place.radius,
      point: layer instanceof PointRef ? layer : null,
      seq: (seq += 1),
      width: 0,
      zoom: null,
      el: null,
    });
    layer.on('mouseover', () => hover(id));
    layer.on('mouseout', () => hover(null));
    dirty = true;
  });
  view.on('unfeature', (id) => {
    const entry = entries.get(id);
    if (!entry) return;
    release(entry);
    entries.delete(id);
    if (hoverEl) hoverEl.hidden = true;
    dirty = true;
  });
  view.on('reset', () => {
    shown.forEach(release);
    shown = [];
    entries.clear();
    if (hoverEl) hoverEl.hidden = true;
    dirty = true;
  });

  map.on('zoomstart', () => {
    zooming = true;
    pane.hidden = true; // Leaflet scales its own layers while it animates; labels come back after
    if (hoverEl) hoverEl.hidden = true;
  });
  map.on('zoomend', () => {
    zooming = false;
    pane.hidden = false;
  });
  map.on('moveend resize', place);
  // A layer shown or hidden (and the history replay taking the live layers off the map).
  map.on('layeradd layerremove', (event) => { if (event.layer instanceof L.LayerGroup) schedule(); });

  return {
    place: place,
    // After the 'applied' hooks (the panels over the map may have grown) and before the page says
    // it has drawn the version: its labels are part of it.
    settle: () => { if (dirty) place(); },
    shown: () => shown.map((entry) => entry.id),
  };
}

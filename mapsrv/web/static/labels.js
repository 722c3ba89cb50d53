/* mapsrv: a map's labels, on the page and in the MCP App, big maps and small: one per feature,
 * on its largest part, placed by placement.js's rules (the map image's too) where they fit.
 *
 * Each feature's label comes with where it belongs (render.js's labelPlace): a point and the box
 * of its symbol, the middle of a line's longest segment, an area's rings (its pole, inside.js, is
 * found the first time its label could show, to half a pixel at that zoom, and again finer as
 * one zooms in). A choropleth's own names (a layer styled by classes or categories without a
 * label template) show only where the label's box fits inside the area: from the zoom at which
 * it does. Placed again after every move, zoom and drawn change; a label that did not fit shows
 * while the pointer is on its feature. Widths come from the canvas's text metrics, never from
 * the layout, and the text only ever goes in through textContent.
 */

import { PointRef, clusterBoxes, preparePoints } from './points.js';
import { Grid, HEIGHT, Priority, byPriority, placeAll, spots } from './placement.js';
import { boxOf, mercatorRing, poleOf, roomAt } from './inside.js';
import { numberOf, propsAt } from './style.js';
import { textNode } from './dom.js';

const FRAME = 16; // px: its padding and borders, left and right
const MAX_WIDTH = 220; // px: a longer text ends in an ellipsis
const MAX_SHOWN = 400; // more would not be read, and each costs an element
const TILE = 256; // px: the world at zoom 0 (a PointRef's mx, my are fractions of it)
const FEW_SORTED = 2000; // entries that may show, sorted alone rather than kept in order (inOrder)
const SYMBOLS = 1000; // labelled points on screen whose symbols no label covers
const FITTING = ['graduated', 'categorical']; // styles whose areas' own names show where they fit

// The labels of `view` (render.js). Options: `covers`, a selector of what floats over the map (a
// label under it could not be read, so none goes there); `activate(id)`, when given, makes each
// shown label a button that calls it (on the edit page: how the keyboard reaches a feature);
// `selectedId()`, whose label goes first.
export function createLabels(view, options) {
  const { map } = view;
  const pane = map.createPane('mapsrvLabels');
  const entries = new Map(); // feature id -> entry (see labelEntry)
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

  // On the edit page a shown label is how the keyboard reaches a feature: Tab to it, Enter
  // selects the feature (its handle then moves it with the arrow keys).
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

  // An area's rings as world pixels at zoom 0, and their box.
  function project(entry) {
    if (entry.flat) return;
    entry.flat = entry.rings.map(mercatorRing);
    entry.bbox = boxOf(entry.flat[0]);
    entry.extent = Math.max(entry.bbox[2] - entry.bbox[0], entry.bbox[3] - entry.bbox[1]);
  }

  // An area's pole, found to 1/100 of its size while that is half a pixel or less at `zoom`, else
  // to 1/1000 (as the image's): each found at most twice.
  function poleAt(entry, zoom) {
    project(entry);
    const wanted = entry.extent * Math.pow(2, zoom) <= 50 ? entry.extent / 100 : entry.extent / 1000;
    if (!(entry.precision <= wanted * 1.01)) {
      const [x, y] = poleOf(entry.flat, wanted);
      entry.wx = x;
      entry.wy = y;
      entry.precision = wanted;
      entry.zoom = null;
      entry.fitZoom = undefined;
    }
  }

  // From which zoom a choropleth's name fits inside its area, at its pole.
  function fitZoom(entry) {
    if (entry.fitZoom === undefined) {
      const room = roomAt(entry.flat, entry.wx, entry.wy, widthOf(entry) / 2, HEIGHT / 2);
      entry.fitZoom = room > 0 ? -Math.log2(room) : Infinity;
    }
    return entry.fitZoom;
  }

  // The order labels go in (placement.js), kept until an entry comes or goes or a change comes
  // (a restyle may resize points or change their values without drawing them again).
  const priority = new Priority();
  function ordered(zoom) {
    if (!priority.kinds) for (const entry of entries.values()) weigh(entry);
    return priority.at(entries.values(), zoom, options.selectedId ? options.selectedId() : null);
  }

  // The entries that may show (on a shown layer, not in a cluster) by priority. While they are
  // few (a big map's points clustered at a low zoom: none) they are weighed and sorted alone, in
  // the same order, and the kept order waits until it pays: weighing and sorting 100,000 points
  // to label none of them was 50-100 ms of a big map's first drawing.
  function inOrder(zoom, onMap) {
    if (!priority.kinds) {
      const few = [];
      for (const entry of entries.values()) {
        if (!onMap.has(entry.layerId) || (entry.point && entry.point.clustered)) continue;
        if (few.push(entry) > FEW_SORTED) break;
      }
      if (few.length <= FEW_SORTED) {
        few.forEach(weigh);
        return byPriority(few, zoom, options.selectedId ? options.selectedId() : null);
      }
    }
    return ordered(zoom);
  }

  // What puts an entry before others: its symbol's size (a point's) and its style's value.
  function weigh(entry) {
    if (entry.symbolOf) {
      entry.symbol = entry.symbolOf.call(entry.point);
      entry.size = (entry.symbol[2] - entry.symbol[0]) * (entry.symbol[3] - entry.symbol[1]);
    }
    entry.value = valueOf(entry);
  }

  function valueOf(entry) {
    const layer = view.layers.get(entry.layerId);
    const by = layer && layer.style && layer.style.raw.by;
    return typeof by === 'string' && entry.props ? numberOf(entry.props[by]) : null;
  }

  // Labels keep off labelled points' symbols (the Walk's label goes under its line rather than
  // hide the Café's dot): up to SYMBOLS of them on screen, each in the grid with its rank in the
  // order (placement.js); past that a label would cover many whatever it did, and so many
  // obstacles would slow every test.
  function symbols(candidates, grid) {
    let n = 0;
    for (const c of candidates) if (c.kind === 'point' && (n += 1) > SYMBOLS) return false;
    candidates.forEach((c, rank) => {
      if (c.kind !== 'point') return;
      const s = c.symbol;
      grid.insert([c.x + s[0], c.y + s[1], c.x + s[2], c.y + s[3], rank]);
    });
    return true;
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
    if (zooming || entries.size === 0) {
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
    const scale = Math.pow(2, zoom);
    const candidates = [];
    for (const entry of inOrder(zoom, onMap)) {
      if (!onMap.has(entry.layerId)) continue;
      if (entry.point && entry.point.clustered) continue; // a cluster has no labels
      if (entry.rings) { // its pole only once it may show: on screen, and big enough if it must fit
        project(entry);
        const [bx0, by0, bx1, by1] = entry.bbox;
        if (bx1 * scale < left + origin.x || bx0 * scale > right + origin.x) continue;
        if (by1 * scale < top + origin.y || by0 * scale > bottom + origin.y) continue;
        if (entry.fits && entry.extent * scale < widthOf(entry)) continue;
        poleAt(entry, zoom);
      }
      if (entry.zoom !== zoom) { // projected once per zoom level, not on every pan
        entry.px = Math.round(entry.wx * scale);
        entry.py = Math.round(entry.wy * scale);
        entry.zoom = zoom;
      }
      const x = entry.px - origin.x;
      const y = entry.py - origin.y;
      if (x < left || x > right || y < top || y > bottom) continue;
      if (entry.fits && zoom < fitZoom(entry)) continue;
      entry.x = x;
      entry.y = y;
      widthOf(entry);
      candidates.push(entry);
    }
    const grid = new Grid();
    const corner = map.getContainer().getBoundingClientRect();
    for (const el of document.querySelectorAll(options.covers)) {
      watch(el);
      if (el.hidden) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const x = r.left - corner.left + left;
      const y = r.top - corner.top + top;
      grid.insert([Math.floor(x), Math.floor(y), Math.ceil(x + r.width), Math.ceil(y + r.height)]);
    }
    for (const box of clusterBoxes(map)) grid.insert(box);
    const guarded = symbols(candidates, grid);
    render(placeAll(candidates, grid, [left, top, right, bottom], MAX_SHOWN, guarded));
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

  // What floats over the map may grow, shrink, show or hide (a panel, the help for an empty
  // map): the labels are placed again when it does.
  const watched = new WeakSet();
  const resized = typeof ResizeObserver === 'function' ? new ResizeObserver(() => schedule()) : null;
  function watch(el) {
    if (!resized || watched.has(el)) return;
    watched.add(el);
    resized.observe(el);
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
    const zoom = map.getZoom();
    if (entry.rings) poleAt(entry, zoom);
    const origin = map.getPixelOrigin();
    const scale = Math.pow(2, zoom);
    if (entry.symbolOf) entry.symbol = entry.symbolOf.call(entry.point);
    const [bx, by] = spots(entry, entry.wx * scale - origin.x, entry.wy * scale - origin.y, widthOf(entry))[0];
    hoverEl.firstChild.textContent = entry.text;
    hoverEl.style.width = entry.width + 'px';
    hoverEl.style.transform = 'translate(' + Math.round(bx) + 'px,' + Math.round(by) + 'px)';
    hoverEl.hidden = false;
  }

  // What is kept of a feature's label: its text and where it belongs (render.js labelPlace).
  function labelEntry(id, layer, f) {
    const place = view.labelPlace(layer, f);
    const layerId = f.layer != null ? String(f.layer) : 'default';
    const owner = view.layers.get(layerId);
    const style = owner && owner.style;
    const entry = {
      id: id,
      text: String(f.label),
      layerId: layerId,
      kind: place.kind,
      props: f.properties && typeof f.properties === 'object' ? propsAt(f, owner ? owner.win : null) : null,
      point: layer instanceof PointRef ? layer : null,
      symbolOf: place.symbol || null,
      size: place.size,
      rings: place.rings || null,
      // a choropleth's own names: only where they fit
      fits: place.kind === 'area' && !!place.rings && !!style && FITTING.includes(style.kind) && !style.label,
      seq: (seq += 1),
      width: 0,
      zoom: null,
      el: null,
    };
    if (entry.point && place.latlng) [entry.wx, entry.wy] = [entry.point.mx * TILE, entry.point.my * TILE]; // projected once
    else if (place.latlng) [entry.wx, entry.wy] = mercatorRing([place.latlng]);
    return entry;
  }

  function hoverIn() { hover(this.mapsrvLabelId); }
  function hoverOut() { hover(null); }

  view.on('feature', (layer, f) => {
    if (!f.label) return;
    const id = String(f.id);
    const entry = labelEntry(id, layer, f);
    const old = entries.get(id);
    entries.set(id, entry);
    if (old) priority.remove(old);
    if (priority.kinds) {
      weigh(entry);
      priority.add(entry);
    }
    layer.mapsrvLabelId = id;
    layer.on('mouseover', hoverIn); // shared: two closures per point were 100,000 points' garbage
    layer.on('mouseout', hoverOut);
    if (layer instanceof L.Marker) { // dragged on the edit page: the label goes with it
      layer.on('drag', () => {
        [entry.wx, entry.wy] = mercatorRing([[layer.getLatLng().lat, layer.getLatLng().lng]]);
        entry.zoom = null;
        schedule();
      });
    }
    dirty = true;
  });
  view.on('unfeature', (id) => {
    const entry = entries.get(id);
    if (!entry) return;
    release(entry);
    entries.delete(id);
    priority.remove(entry);
    if (hoverEl) hoverEl.hidden = true;
    dirty = true;
  });
  view.on('reset', () => {
    shown.forEach(release);
    shown = [];
    entries.clear();
    priority.reset();
    if (hoverEl) hoverEl.hidden = true;
    dirty = true;
  });
  view.on('change', (change) => { // a style may resize points or change their values in place
    if (change.kind === 'layer_style' || change.kind === 'layer') {
      priority.reset();
      dirty = true;
    }
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
    // Each shown label's feature id and box (layer pixels): for tests and benchmarks.
    boxes: () => shown.map((entry) => [entry.id].concat(entry.box)),
  };
}

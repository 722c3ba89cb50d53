/* mapsrv: drawing a map's state on a Leaflet map, the one renderer of the page (map.js) and the
 * MCP App (app.js), so both draw every feature, label and cluster the same way. Wire contract:
 * docs/protocol.md.
 *
 * `createRenderer(map, options)` answers a view: `snapshot(state)` replaces what is drawn,
 * `changes(payload)` applies the changes of one event, and once a burst of events is drawn it
 * sets `document.body.dataset.drawnVersion` and fires `mapsrv:applied` on window. Hooks
 * (`view.on(name, fn)`): snapshot, change, feature (a layer was made for a feature), unfeature,
 * reset, applied, title.
 *
 * A layer's style by value (issue 45: its `style`, set by a `layer_style` change) colours, sizes,
 * labels and hides its features as style.js computes them, a heatmap's points go to a heat layer,
 * and legend.js shows the styles of the visible layers (with a time slider for a layer whose style
 * has a time window). A restyle of a big map's points only changes what they are drawn with.
 *
 * Everything in the map state (titles, labels, popups, layer names) is untrusted text written by an
 * agent: it only ever reaches the DOM through textContent, and Leaflet only ever gets DOM nodes
 * for tooltips and popups (it would treat strings as HTML).
 */

import { FlatPolygon, HeldCanvas, continuous } from './areas.js';
import { createLabels } from './labels.js';
import { PointRef, PointsLayer, RADIUS as POINT_RADIUS, holdPoints, mercator } from './points.js';
import { textNode } from './dom.js';
import { HeatLayer, compileStyle, labelOf, propsAt } from './style.js';
import { createLegend } from './legend.js';
import { createSources } from './sources.js';
import { eachPoint, isValid, largestIndex, parts } from './shapes.js';
import { flatArea, latlngOf, mercatorRing, poleOf } from './inside.js';

export const WORLD_CENTER = [20, 0];
export const WORLD_ZOOM = 2;
const FIT_MAX_ZOOM = 16; // when fitting features, so a lone marker does not zoom to street level
const FIT_SIDE = 20; // px kept on the left and right of a fitted world

// A big map is drawn on one canvas (an element and a forced layout per feature made a 3,000-point
// map take over a minute), its points by points.js, and its labels placed by labels.js where they
// fit instead of as permanent tooltips. Small maps keep one element per feature (focusable,
// styled by CSS). The two thresholds keep a map near one from flipping. They count shapes: a
// feature of several parts counts each (the world's 241 countries are 1,619 polygons; as 241 SVG
// paths with a permanent label each their names covered one another and a pan cost a third more).
const BIG_AT = 400;
const SLICE_MS = 50; // about the most of a snapshot drawn in one task (drawBacklog)
const SMALL_BELOW = 200;

export const SYMBOL_COLOR = '#2563eb';
export const SYMBOL_SIZE = 26;
const MAX_ATTRIBUTES = 20;
const AREAS = ['polygon', 'multipolygon', 'rectangle', 'circle'];
const MULTI = ['multipoint', 'multipolyline', 'multipolygon'];

// How many shapes a feature counts for towards a big map: its parts (shapes.js's parts, counted
// without making them).
function shapeCount(f) {
  if (!f || !Array.isArray(f.coords)) return 1;
  if (MULTI.includes(f.type)) return f.coords.length;
  if (f.type !== 'collection') return 1;
  let n = 0;
  for (const m of f.coords) n += m && MULTI.includes(m.type) && Array.isArray(m.coords) ? m.coords.length : 1;
  return n;
}

function pathOptions(style) {
  const o = {};
  if (style.color) o.color = style.color;
  if (typeof style.weight === 'number') o.weight = style.weight;
  if (typeof style.opacity === 'number') o.opacity = style.opacity;
  if (style.fill_color) o.fillColor = style.fill_color;
  if (typeof style.fill_opacity === 'number') o.fillOpacity = style.fill_opacity;
  if (style.dash) o.dashArray = style.dash;
  return o;
}

// A round badge with a short text (a stop number, a letter, an emoji), in the marker pane so it
// sits above lines. The text goes in through textContent and the colour through the CSSOM,
// which ignores a value it cannot parse: neither can become markup.
function symbolMarker(coords, style, keyboard) {
  const badge = textNode('span', 'mapsrv-symbol', String(style.symbol));
  badge.style.backgroundColor = style.color || SYMBOL_COLOR;
  if (Array.from(String(style.symbol)).length > 1) badge.classList.add('mapsrv-symbol-long');
  const icon = L.divIcon({
    html: badge,
    className: 'mapsrv-symbol-icon',
    iconSize: [SYMBOL_SIZE, SYMBOL_SIZE],
    iconAnchor: [SYMBOL_SIZE / 2, SYMBOL_SIZE / 2],
  });
  return L.marker(coords, { icon: icon, keyboard: keyboard });
}

// A layer's elements: its own, or its parts' (a multipoint's or a collection's group); none
// when drawn on a canvas.
export function elementsOf(layer) {
  if (layer instanceof L.FeatureGroup) return layer.getLayers().flatMap(elementsOf);
  const el = layer.getElement ? layer.getElement() : layer._icon;
  return el ? [el] : [];
}

// Leaflet (re)creates a layer's element each time it is added to the map, including when its
// map layer is hidden and shown again, so tag it on every 'add'.
export function tagElement(layer, f) {
  for (const el of elementsOf(layer)) {
    el.setAttribute('data-feature-id', f.id);
    el.setAttribute('data-feature-type', f.type);
  }
}

// A line's label goes on the middle of its longest segment, not at the middle of its length:
// that often falls on a vertex, where a route's stop marker and label already are.
function lineLabelPoint(points) {
  let best = null;
  let longest = -1;
  for (let i = 1; i < points.length; i += 1) {
    const a = L.latLng(points[i - 1]);
    const b = L.latLng(points[i]);
    const length = a.distanceTo(b);
    if (length > longest) {
      longest = length;
      best = L.latLng((a.lat + b.lat) / 2, (a.lng + b.lng) / 2);
    }
  }
  return best;
}

// A feature's parts (shapes.js) as drawn: an area crossing the 180th meridian continuous
// (areas.js), so its size, its label and its popup are those of the outline people see.
function drawnParts(f) {
  return parts(f).map((part) => (part[0] === 'polygon' ? ['polygon', continuous(part[1])] : part));
}

// Where a feature's popup opens, from its data (it may be off the map): on its largest part
// (shapes.js), a point's own place, a line's longest segment, an area's pole (inside.js), where
// its label goes too.
function labelPoint(part) {
  const [kind, c] = part;
  if (kind === 'point') return L.latLng(c);
  if (kind === 'line') return lineLabelPoint(c) || L.latLng(c[0]);
  const [x, y] = poleOf(c.map(mercatorRing));
  return L.latLng(latlngOf(x, y));
}

const PIN_BOX = [-12, -41, 13, 0]; // Leaflet's marker icon (25 x 41, its tip on the point)
const BADGE_BOX = [-SYMBOL_SIZE / 2, -SYMBOL_SIZE / 2, SYMBOL_SIZE / 2, SYMBOL_SIZE / 2];

// The box a point's symbol covers around it, in px: a pin, a badge or a dot (read when the label
// is placed: a restyle may resize a dot without drawing it again).
function symbolBox(part) {
  if (part instanceof L.Marker) return () => (part.options.icon instanceof L.DivIcon ? BADGE_BOX : PIN_BOX);
  let box = [0, 0, 0, 0];
  return () => {
    const r = (part.options.radius || 0) + (part.options.weight || 0) / 2;
    if (box[2] !== r) box = [-r, -r, r, r];
    return box;
  };
}

// A feature's size for its label's priority (placement.js), from all its parts: the area of
// its polygons' outlines, or the length of its lines, in world pixels at zoom 0.
function sizeOf(all, kind) {
  let size = 0;
  for (const [k, c] of all) {
    if (k !== kind) continue;
    if (k === 'polygon') size += flatArea(mercatorRing(c[0]));
    else {
      const r = mercatorRing(c);
      for (let i = 2; i < r.length; i += 2) size += Math.hypot(r[i] - r[i - 2], r[i + 1] - r[i - 1]);
    }
  }
  return size;
}

// A feature's popup: its text, then the attributes a file brought (a CSV's columns, a GPX
// point's time and elevation), as text. A per-point list (a track's times) shows its range.
function attributeText(value) {
  const nested = (v) => v !== null && typeof v === 'object';
  if (nested(value) && (!Array.isArray(value) || value.some(nested))) return JSON.stringify(value);
  if (!Array.isArray(value)) return value === null ? '—' : String(value);
  const known = value.filter((v) => v !== null && v !== '');
  if (!known.length) return '—';
  const numbers = known.every((v) => typeof v === 'number');
  const low = numbers ? Math.min(...known) : known[0];
  const high = numbers ? Math.max(...known) : known[known.length - 1];
  return String(low) + ' – ' + String(high) + ' (' + value.length + ' points)';
}

// A line a router drew along the roads keeps how it was travelled, its length and its time
// (mapsrv/core/routes.py, whose words these are): "313 km, 3 h 5 min by car".
const ROUTE_KEYS = ['by', 'distance_m', 'duration_s'];
const MODES = ['car', 'bike', 'foot'];

function lengthWords(metres) {
  if (Math.round(metres) < 1000) return Math.round(metres) + ' m';
  const tenths = Math.round(metres / 100);
  if (tenths < 1000) return Math.floor(tenths / 10) + '.' + (tenths % 10) + ' km';
  return Math.round(metres / 1000).toLocaleString('en-US') + ' km';
}

function durationWords(seconds) {
  let minutes = Math.round(seconds / 60);
  if (minutes < 1) return 'under a minute';
  if (minutes < 60) return minutes + ' min';
  let hours = Math.floor(minutes / 60);
  minutes %= 60;
  if (hours < 48) return minutes ? hours + ' h ' + minutes + ' min' : hours + ' h';
  const days = Math.floor(hours / 24);
  hours %= 24;
  return hours ? days + ' d ' + hours + ' h' : days + ' d';
}

function routeWords(f) {
  const p = f && f.type === 'polyline' && f.properties;
  if (!p || !MODES.includes(p.by)) return null;
  const { distance_m: metres, duration_s: seconds } = p;
  if (typeof metres !== 'number' || typeof seconds !== 'number' || metres < 0 || seconds < 0) return null;
  return lengthWords(metres) + ', ' + durationWords(seconds) + ' by ' + p.by;
}

// Whether popupContent(f) has anything to show.
function hasPopup(f) {
  if (f.popup || routeWords(f)) return true;
  const p = f.properties;
  if (!p || typeof p !== 'object') return false;
  for (const key in p) if (Object.hasOwn(p, key)) return true;
  return false;
}

// `p`: the properties shown (a place's row at the time shown: style.js propsAt).
function popupContent(f, p) {
  const route = routeWords(f);
  const attributes = p && typeof p === 'object'
    ? Object.entries(p).filter(([key]) => !route || !ROUTE_KEYS.includes(key)) : [];
  if (!f.popup && !attributes.length && !route) return null;
  const box = textNode('div', 'mapsrv-popup', f.popup || '');
  if (route) box.prepend(textNode('div', 'mapsrv-route', route));
  if (!attributes.length) return box;
  const list = document.createElement('dl');
  list.className = 'mapsrv-attributes';
  for (const [key, value] of attributes.slice(0, MAX_ATTRIBUTES)) {
    list.append(textNode('dt', '', key), textNode('dd', '', attributeText(value)));
  }
  if (attributes.length > MAX_ATTRIBUTES) {
    list.append(textNode('dt', '', '…'), textNode('dd', '', (attributes.length - MAX_ATTRIBUTES) + ' more'));
  }
  box.append(list);
  return box;
}

// Computed from the features' data rather than from Leaflet layers: a circle cannot report
// its bounds while its layer is off the map, and a snapshot's view is set before its features
// are drawn (drawing them first projected each twice).
function featureBounds(list) {
  const bounds = L.latLngBounds([]);
  let [south, west, north, east] = [Infinity, Infinity, -Infinity, -Infinity];
  const extend = (p) => {
    if (p[0] < south) south = p[0];
    if (p[0] > north) north = p[0];
    if (p[1] < west) west = p[1];
    if (p[1] > east) east = p[1];
  };
  for (const f of list) {
    if (!isValid(f)) continue;
    if (f.type === 'circle') bounds.extend(L.latLng(f.coords).toBounds(2 * f.radius));
    else eachPoint(f, extend);
  }
  if (south <= north) bounds.extend([[south, west], [north, east]]);
  return bounds.isValid() ? bounds : null;
}

/* Options:
 * - `editable`: markers take the keyboard and labels are buttons calling `activate(id)`;
 * - `fitOptions()`: the padding a fitted view keeps (what floats over the map's edges);
 * - `covers`: a selector of what floats over the map, where no label goes;
 * - `selectedId()`: the feature whose label goes first;
 * - `live` (default true): the map people are watching. A view that is not (the page's history
 *   replay) leaves the map's view and title alone and reports no drawn version.
 */
export function createRenderer(map, options) {
  const opts = Object.assign({ editable: false, fitOptions: () => ({ padding: [40, 40] }), covers: '.leaflet-control', live: true }, options);
  const hooks = {
    snapshot: [], change: [], feature: [], unfeature: [], reset: [], applied: [], title: [],
  };
  function emit(name, ...args) {
    for (const fn of hooks[name]) {
      try { fn(...args); } catch (err) { console.error('mapsrv: ' + name + ' hook failed', err); }
    }
  }

  let version = -1;
  const layers = new Map(); // layer id -> {id, name, visible, group: L.LayerGroup}
  const features = new Map(); // feature id -> {data, layer: Leaflet layer or PointRef, layerId}
  const sources = createSources(map); // layers whose source is raster tiles (sources.js)
  let big = false;
  let shapes = 0; // what the drawn features count for towards a big map (shapeCount)
  let canvas = null;

  function canvasRenderer() {
    if (!canvas) canvas = new HeldCanvas({ tolerance: 4 });
    return canvas;
  }

  // What a layer's style by value (style.js) makes of one feature: null when the layer has
  // none; else {hidden, heat, color, radius, opacity, label}, `color` null keeping the feature's
  // own and `label` undefined keeping its own label.
  function lookOf(f, owner) {
    const s = owner && owner.style;
    if (!s) return null;
    const p = propsAt(f, owner.win); // a place's row at the time shown (style.js)
    return {
      hidden: !s.shows(f, owner.win),
      heat: s.heat && (f.type === 'marker' || f.type === 'multipoint'),
      color: s.colorOf(p),
      radius: s.radiusOf(p),
      sized: s.kind === 'proportional',
      opacity: s.opacity,
      label: s.label ? labelOf(s.label, f, p) : undefined,
    };
  }

  const layerIdOf = (f) => (f.layer != null ? String(f.layer) : 'default');

  // A big map's point takes its look straight into the options points.js draws with.
  function paintPoint(ref, look, f) {
    const classed = look && look.color;
    ref.options.fillColor = classed ? look.color : (f.style && f.style.color) || SYMBOL_COLOR;
    ref.options.radius = classed ? look.radius : POINT_RADIUS;
    ref.options.fillOpacity = classed ? look.opacity : undefined;
    ref.options.sized = !!(classed && look.sized); // a proportional size: kept however dense
  }

  // A multipoint's or a collection's parts, a layer each in one group: selected, labelled and
  // moved as one feature. Points are dots, as a big map's are: a pin each would be an element each.
  function partsGroup(f, style, o, look) {
    const classed = look && look.color;
    const dot = Object.assign({ radius: classed ? look.radius : 6, weight: 1.5, color: '#ffffff',
      fillColor: classed ? look.color : style.color || SYMBOL_COLOR, fillOpacity: classed ? look.opacity : 0.9 },
    o.renderer ? { renderer: o.renderer } : {});
    return L.featureGroup(parts(f).map(([kind, c]) => {
      if (kind === 'point') return L.circleMarker(c, dot);
      return kind === 'line' ? L.polyline(c, o) : L.polygon(continuous(c), o);
    }));
  }

  function buildLeafletLayer(f, look) {
    if (!isValid(f)) throw new Error('bad geometry for ' + f.type);
    if (look === undefined) look = lookOf(f, layers.get(layerIdOf(f)));
    const classed = look && look.color;
    const style = classed ? Object.assign({}, f.style, { color: look.color, fill_color: look.color }) : f.style || {};
    const o = pathOptions(style);
    if (classed && AREAS.includes(f.type)) {
      o.fillOpacity = 0.8; // as the map image's: the class reads through, the basemap barely
      o.weight = typeof style.weight === 'number' ? style.weight : 1.5;
    }
    if (big) o.renderer = canvasRenderer();
    switch (f.type) {
      case 'marker':
        if (big) { // points.js draws it
          const ref = new PointRef(String(f.id), f.coords, style);
          if (look) paintPoint(ref, look, f);
          return ref;
        }
        if (classed && !style.symbol) {
          return L.circleMarker(f.coords, {
            radius: look.radius, color: '#ffffff', weight: 1.5, fillColor: look.color, fillOpacity: look.opacity,
          });
        }
        if (style.symbol) return symbolMarker(f.coords, style, opts.editable);
        if (style.color) {
          return L.circleMarker(f.coords, Object.assign({ radius: 8, weight: 2, fillOpacity: 0.7 }, o));
        }
        return L.marker(f.coords);
      case 'polyline': case 'multipolyline': // nested arrays: Leaflet draws a line of several parts
        return L.polyline(f.coords, o);
      case 'polygon': case 'multipolygon': // nested arrays: its parts, their holes cut out (evenodd)
        return big ? new FlatPolygon(f.coords, o) : L.polygon(continuous(f.coords), o);
      case 'circle':
        return L.circle(f.coords, Object.assign({ radius: f.radius }, o));
      case 'rectangle':
        return L.rectangle(f.coords, o);
      default: // multipoint, collection
        return partsGroup(f, style, o, look);
    }
  }

  // Where a feature's label belongs (labels.js), on its largest part (shapes.js): {kind,
  // latlng, symbol, size} for a point (`symbol` answers its symbol's box, called on the layer), {kind, latlng, size}
  // for a line (the middle of its longest segment) and for a circle, {kind, rings, size} for an
  // area. `size` as placement.js weighs it.
  function labelPlace(layer, f) {
    if (f.type === 'marker') { // a big map's point answers its box itself: no closure per point
      const symbol = layer instanceof PointRef ? PointRef.prototype.symbolBox : symbolBox(layer);
      return { kind: 'point', latlng: f.coords, symbol: symbol, size: 0 };
    }
    if (f.type === 'circle') {
      const r = f.radius / (40075016.686 * Math.cos(f.coords[0] * Math.PI / 180)) * 256;
      return { kind: 'area', latlng: f.coords, size: Math.PI * r * r };
    }
    const all = drawnParts(f);
    const index = largestIndex(all);
    const [kind, c] = all[index];
    if (kind === 'point') {
      const part = layer instanceof L.FeatureGroup ? layer.getLayers()[index] : layer;
      return { kind: 'point', latlng: c, symbol: symbolBox(part), size: 0 };
    }
    if (kind === 'line') {
      const at = labelPoint(all[index]);
      return { kind: 'line', latlng: [at.lat, at.lng], size: sizeOf(all, 'line') };
    }
    return { kind: 'area', rings: c, size: sizeOf(all, 'polygon') };
  }

  // What a feature's popup lists: its row at its layer's window when it is a place's rows by time.
  function rowOf(f) {
    const owner = layers.get(layerIdOf(f));
    return propsAt(f, owner ? owner.win : null);
  }

  // A popup opens on the largest part: a group's is its part's (Leaflet would take the first), a
  // line's or an area's is where labelPoint says (Leaflet's is its first part's middle).
  function decorate(layer, f) {
    if (f.type === 'marker') { // its popup opens on its point
      if (hasPopup(f)) layer.bindPopup(() => popupContent(f, rowOf(f)), { maxWidth: 320 });
      if (!big) layer.on('add', () => tagElement(layer, f));
      return;
    }
    const all = drawnParts(f);
    const index = largestIndex(all);
    const target = layer instanceof L.FeatureGroup ? layer.getLayers()[index] : layer;
    if (all[index] && all[index][0] !== 'point' && f.type !== 'circle' && target) {
      let anchor = null;
      target.getCenter = () => anchor || (anchor = labelPoint(all[index]));
    }
    // made when it opens: 250 countries of 168 columns each took 50 ms of elements to build
    if (hasPopup(f)) layer.bindPopup(() => popupContent(f, rowOf(f)), { maxWidth: 320 });
    if (!big) layer.on('add', () => tagElement(layer, f)); // a canvas-drawn layer has no element
  }

  // A feature may name a layer no snapshot or `layer` change announced: it gets a visible one.
  function ensureLayer(id) {
    let entry = layers.get(id);
    if (!entry) {
      // style: compiled (style.js) or null; win: this viewer's time window [from, to] in ms
      entry = { id: id, name: id, visible: true, group: L.layerGroup(), style: null, styleKey: '', win: null, heat: null };
      layers.set(id, entry);
      entry.group.addTo(map);
      legendDirty = true;
    }
    return entry;
  }

  function setLayer(info) {
    if (!info || info.id == null) return;
    const entry = ensureLayer(String(info.id));
    entry.name = typeof info.name === 'string' ? info.name : entry.id;
    entry.visible = info.visible !== false;
    const shown = map.hasLayer(entry.group);
    if (entry.visible && !shown) entry.group.addTo(map);
    if (!entry.visible && shown) map.removeLayer(entry.group);
    // A layer's JSON is all of it: no style there is no style, no source no source.
    setStyle(entry, info.style || null);
    entry.source = info.source || null; // a layer from elsewhere (tiles, an archive): the map is not empty
    sources.set(entry, entry.source);
    legendDirty = true;
  }

  // The heat layer's points: the layer's shown markers, weighted by the style's weight property.
  function heatPoints(entry) {
    const weight = entry.style && typeof entry.style.raw.weight === 'string' ? entry.style.raw.weight : null;
    const out = [];
    for (const fe of features.values()) {
      const f = fe.data;
      if (fe.layerId !== entry.id || (f.type !== 'marker' && f.type !== 'multipoint')) continue;
      if (!entry.style.shows(f, entry.win)) continue;
      let w = 1;
      if (weight) {
        const v = Number(propsAt(f, entry.win)[weight]);
        w = Number.isFinite(v) ? Math.abs(v) : 0;
      }
      const ref = fe.layer;
      if (ref instanceof PointRef) out.push([ref.mx, ref.my, w]);
      else eachPoint(f, (p) => out.push(mercator(p[0], p[1]).concat(w)));
    }
    return out;
  }

  // A layer's style by value: every one of its features drawn again with it, at once.
  function setStyle(entry, raw) {
    const key = raw ? JSON.stringify(raw) : '';
    if (key === entry.styleKey) return;
    entry.styleKey = key;
    entry.style = compileStyle(raw);
    entry.win = entry.style && entry.style.window ? entry.style.window.slice() : null;
    const heat = !!(entry.style && entry.style.heat);
    entry.group.mapsrvStyled = !!entry.style && !heat;
    if (entry.group.mapsrvPoints) entry.group.mapsrvPoints.setCluster(!entry.group.mapsrvStyled);
    if (heat || (entry.style && entry.style.under)) {
      const radius = Number(entry.style.raw.radius);
      if (!entry.heat) {
        entry.heat = new HeatLayer(() => heatPoints(entry), { radius: radius });
        entry.group.addLayer(entry.heat);
      } else {
        entry.heat.setRadius(radius);
      }
    } else if (entry.heat) {
      entry.group.removeLayer(entry.heat);
      entry.heat = null;
    }
    restyle(entry);
    legendDirty = true;
  }

  // Draws a layer's features again after its style or time window changed. A big map's point whose
  // label stays the same only takes its new colour, size and visibility (100,000 points in one
  // pass); anything else is drawn again.
  function restyle(entry) {
    const again = [];
    for (const [id, fe] of features) {
      if (fe.layerId !== entry.id) continue;
      const f = fe.data;
      const ref = fe.layer;
      if (!(ref instanceof PointRef) || held.has(id) || f.series) { // a place's rows: its label's value too
        again.push(f);
        continue;
      }
      const look = lookOf(f, entry);
      const hidden = !!(look && (look.hidden || look.heat));
      const label = hidden ? null : (look && look.label !== undefined ? look.label : f.label) || null;
      if (label !== fe.labelText) {
        again.push(f);
        continue;
      }
      paintPoint(ref, look, f);
      if (hidden !== fe.hidden) {
        fe.hidden = hidden;
        if (hidden && ref.owner) ref.owner.remove(ref);
        else if (!hidden) addToGroup(entry.group, ref);
      }
    }
    if (entry.group.mapsrvPoints) entry.group.mapsrvPoints.redrawSoon();
    again.forEach(upsertFeature);
    if (entry.heat) entry.heat.changed();
  }

  // This viewer's time window for a layer whose style has `time` (legend.js's slider).
  function setTimeWindow(id, from, to) {
    const entry = layers.get(id);
    if (!entry || !entry.style || !entry.style.time) return;
    entry.win = [from, to];
    restyle(entry);
    settleSoon();
  }

  function removeFeature(id) {
    const entry = features.get(id);
    if (!entry) return;
    const owner = layers.get(entry.layerId);
    if (entry.layer instanceof PointRef) {
      if (entry.layer.owner) entry.layer.owner.remove(entry.layer);
    } else if (owner) {
      owner.group.removeLayer(entry.layer);
    }
    features.delete(id);
    shapes -= entry.shapes;
    if (owner && owner.heat) owner.heat.changed();
    emit('unfeature', id);
  }

  // A big map's points go to their map layer's points layer, the rest to the group itself.
  function addToGroup(group, layer) {
    if (!(layer instanceof PointRef)) {
      group.addLayer(layer);
      return;
    }
    if (!group.mapsrvPoints) {
      group.mapsrvPoints = new PointsLayer();
      group.mapsrvPoints.setCluster(!group.mapsrvStyled);
    }
    if (!group.hasLayer(group.mapsrvPoints)) group.addLayer(group.mapsrvPoints);
    group.mapsrvPoints.add(layer);
  }

  // Draws every feature again when the map crosses into (or out of) being big.
  function fitMode(count) {
    const want = big ? count >= SMALL_BELOW : count >= BIG_AT;
    if (want === big) return;
    const all = Array.from(features.values(), (entry) => entry.data);
    dropAll();
    big = want;
    all.forEach(upsertFeature);
  }

  // Forgets every feature at once: their layers leave with their groups' contents.
  function dropAll() {
    for (const entry of layers.values()) {
      entry.group.clearLayers();
      entry.group.mapsrvPoints = null;
      if (entry.heat) entry.group.addLayer(entry.heat);
    }
    features.clear();
    shapes = 0;
    emit('reset');
  }

  // Features a person is dragging: a change that arrives meanwhile is kept, and drawn when the
  // drag ends (redrawing would pull the marker out from under the pointer).
  const held = new Map(); // feature id -> whether a change to it is waiting

  function upsertFeature(f) {
    if (!f || f.id == null) return;
    const id = String(f.id);
    const current = features.get(id);
    if (current && held.has(id) && String(f.layer != null ? f.layer : 'default') === current.layerId) {
      current.data = f;
      held.set(id, true);
      return;
    }
    removeFeature(id);
    const owner = ensureLayer(layerIdOf(f));
    const look = lookOf(f, owner);
    const hidden = !!(look && (look.hidden || look.heat));
    // what is drawn: the feature with its label as the style makes it (none when hidden)
    let shown = f;
    if (look && (hidden || look.label !== undefined)) shown = Object.assign({}, f, { label: hidden ? null : look.label });
    let layer;
    try {
      layer = buildLeafletLayer(shown, look);
    } catch (err) {
      console.warn('mapsrv: cannot draw feature', id, err);
      return;
    }
    decorate(layer, shown);
    const counts = shapeCount(f);
    features.set(id, { data: f, layer: layer, layerId: owner.id, hidden: hidden, labelText: shown.label || null, shapes: counts });
    shapes += counts;
    emit('feature', layer, shown);
    if (!hidden) addToGroup(owner.group, layer);
    if (owner.heat && (f.type === 'marker' || f.type === 'multipoint')) owner.heat.changed();
  }

  function clearFeatures(layerId) {
    for (const [id, entry] of Array.from(features)) {
      if (layerId == null || entry.layerId === layerId) removeFeature(id);
    }
  }

  function removeLayer(id) {
    clearFeatures(id);
    const entry = layers.get(id);
    if (!entry) return;
    sources.drop(id);
    map.removeLayer(entry.group);
    layers.delete(id);
  }

  // Fit `bounds`; a map of the world (180 degrees of longitude or more, 100 of latitude) fills
  // the window's width, one whole zoom past the fit that keeps clear of the panel at most (the far
  // north and south, where Mercator is widest, cropped): a whole-zoom fit of the world drew it
  // 512 px wide in a 1,280 px tab. A narrower map (France, Germany and Japan) is fitted whole.
  function fit(bounds, animate) {
    const options = Object.assign(opts.fitOptions(), { maxZoom: FIT_MAX_ZOOM }, animate);
    const box = L.latLngBounds(bounds);
    if (box.getEast() - box.getWest() < 180 || box.getNorth() - box.getSouth() < 100) {
      map.fitBounds(box, options);
      return;
    }
    const whole = map.getBoundsZoom(box, false, L.point(options.paddingTopLeft || options.padding).add(options.paddingBottomRight || options.padding));
    const middle = box.getCenter();
    const across = L.latLngBounds([middle.lat, box.getWest()], [middle.lat, box.getEast()]);
    const wide = map.getBoundsZoom(across, false, L.point(2 * FIT_SIDE, 0));
    map.setView(middle, Math.min(Math.max(whole, wide), whole + 1, FIT_MAX_ZOOM), animate);
  }

  function applyView(view, list) {
    if (!view) {
      const bounds = featureBounds(list || Array.from(features.values(), (entry) => entry.data));
      if (bounds) fit(bounds, { animate: false });
      else map.setView(WORLD_CENTER, WORLD_ZOOM, { animate: false });
      return;
    }
    const animate = { animate: !!view.animate };
    if (view.bounds) {
      fit(view.bounds, animate);
    } else if (view.center) {
      map.setView(view.center, typeof view.zoom === 'number' ? view.zoom : map.getZoom(), animate);
    }
  }

  // A snapshot replaces everything, including the version: it may be lower than ours after a
  // server restart.
  function snapshot(state) {
    version = typeof state.version === 'number' ? state.version : -1;
    for (const entry of layers.values()) map.removeLayer(entry.group);
    layers.clear();
    legendDirty = true;
    features.clear();
    shapes = 0;
    emit('reset');
    const all = state.features || [];
    big = all.reduce((n, f) => n + shapeCount(f), 0) >= BIG_AT;
    if (opts.live) {
      emit('title', state.title); // first: the title's height moves what a fitted view keeps clear of
      applyView(state.view, all);
    }
    (state.layers || []).forEach(setLayer);
    backlog = { state: state, features: all, next: 0, changes: [] };
    if (opts.live && big) nextTask(drawBacklog); // after the task that read it (JSON.parse)
    else drawBacklog();
  }

  // A live snapshot's features are drawn in slices of about SLICE_MS, each its own task, so a big
  // map (Natural Earth's 1:10m countries: 400 ms of building) never holds the page for long; the
  // changes that come meanwhile wait for it, and its version is drawn once the last slice is. A
  // small map is drawn in the snapshot's own task, and the history replay (not live) always is:
  // it reads what it drew at once; a big live map starts in the next task.
  let backlog = null; // {state, features, next, changes}
  // A task of its own, queued now: setTimeout(fn, 0) nested five deep waits 4 ms or more.
  const tasks = new MessageChannel();
  let queued = [];
  tasks.port1.onmessage = () => { const run = queued; queued = []; run.forEach((fn) => fn()); };
  function nextTask(fn) {
    if (queued.push(fn) === 1) tasks.port2.postMessage(null);
  }
  function drawBacklog() {
    const b = backlog;
    if (!b) return;
    const start = performance.now();
    while (b.next < b.features.length) {
      upsertFeature(b.features[b.next]);
      b.next += 1;
      if (opts.live && b.next < b.features.length && performance.now() - start > SLICE_MS) {
        if (canvas) canvas.hold(true); // drawn once, after the last slice
        holdPoints(map, true);
        nextTask(drawBacklog);
        return;
      }
    }
    backlog = null;
    if (canvas) canvas.hold(false);
    holdPoints(map, false);
    emit('snapshot', b.state);
    for (const payload of b.changes) changes(payload);
    settleSoon();
  }

  function applyChange(change) {
    if (!change || typeof change.version !== 'number' || change.version <= version) return;
    // The version counts as applied even if drawing fails, so a bad change is not retried forever.
    version = change.version;
    switch (change.kind) {
      case 'view': applyView(change.view); break;
      case 'title': emit('title', change.title); break;
      case 'upsert':
        fitMode((change.features || []).reduce((n, f) => n + shapeCount(f), shapes));
        (change.features || []).forEach(upsertFeature);
        break;
      case 'remove': (change.ids || []).forEach((id) => removeFeature(String(id))); break;
      case 'layer': setLayer(change.layer); break;
      case 'layer_remove': removeLayer(String(change.id)); legendDirty = true; break;
      case 'layer_style':
        if (change.layer != null) setStyle(ensureLayer(String(change.layer)), change.style || null);
        break;
      case 'clear': clearFeatures(change.layer == null ? null : String(change.layer)); break;
      default: console.warn('mapsrv: unknown change kind', change.kind);
    }
    if (change.kind === 'remove' || change.kind === 'clear' || change.kind === 'layer_remove') fitMode(shapes);
    emit('change', change);
  }

  // The changes of one event: one, or a list (a batch), applied in version order.
  function changes(payload) {
    if (backlog && backlog.changes.push(payload)) return;
    const list = [].concat(payload).sort((a, b) => a.version - b.version);
    for (const change of list) {
      try {
        applyChange(change);
      } catch (err) {
        console.error('mapsrv: failed to apply change', change, err);
      }
    }
    settleSoon();
  }

  // A batch of N ops arrives as N events, often in one network read: what costs the whole map
  // (placing labels, clusters) runs once after them, not once per event (a batch of 1,000 points
  // on a 10,000-point map took 6.7 s of main thread that way).
  let settling = false;
  let labels = null; // labels.js's, made once the view exists
  let legend = null; // legend.js's, on a live view
  let legendDirty = false; // a layer's style, name or visibility changed: the legend is drawn again
  function settleSoon() {
    if (settling) return;
    settling = true;
    setTimeout(settle, 0);
  }

  function settle() {
    settling = false;
    if (backlog) return; // drawn once the snapshot is (drawBacklog)
    emit('applied', version);
    labels.settle();
    if (!opts.live) return;
    if (legend) legend.update(legendDirty);
    legendDirty = false;
    // For embedders, tests and benchmarks: everything up to `version` is drawn.
    document.body.dataset.drawnVersion = String(version);
    window.dispatchEvent(new CustomEvent('mapsrv:applied', { detail: { version: version } }));
  }

  const view = {
    map: map,
    layers: layers,
    features: features,
    get version() { return version; },
    get big() { return big; },
    on: (name, fn) => hooks[name].push(fn),
    snapshot: snapshot,
    changes: changes,
    // Takes everything off the map.
    clear: () => snapshot({ version: -1, features: [] }),
    applyView: applyView,
    labelPlace: labelPlace,
    // Where a label of labelPlace's `place` goes: its point, or its area's pole.
    labelLatLng: (place) => (place.latlng ? L.latLng(place.latlng) : labelPoint(['polygon', place.rings])),
    buildLeafletLayer: (f) => buildLeafletLayer(f),
    setTimeWindow: setTimeWindow,
    decorate: decorate,
    addToGroup: addToGroup,
    hold: (id) => { if (!held.has(id)) held.set(id, false); },
    isHeld: (id) => held.has(id),
    // Ends a hold; draws the feature again from the state held when a change came during it,
    // or when asked (after a refused drag).
    release: (id, redraw) => {
      const waiting = held.get(id) === true;
      held.delete(id);
      const entry = features.get(id);
      if ((redraw || waiting) && entry) upsertFeature(entry.data);
    },
  };
  labels = createLabels(view, {
    covers: opts.covers,
    activate: opts.editable ? opts.activate : null,
    selectedId: opts.selectedId,
  });
  view.placeLabels = labels.place;
  view.shownLabels = labels.shown;
  view.labelBoxes = labels.boxes;
  if (opts.live && opts.legend !== false) legend = createLegend(view);
  return view;
}

/* mapsrv: the offline world map (Natural Earth's countries, shipped with mapsrv and served
 * from /static/world/), drawn when the tile server cannot be reached, or chosen in the layer
 * control; on the page and in the MCP App. Countries come as TopoJSON; decoded here (quantized arcs, each point a delta from the
 * one before; a negative arc index is that arc reversed), drawn on a canvas in a pane under
 * everything else, never interactive. The 1:110m outlines below zoom 4, the 1:50m ones from it.
 *
 * The outlines are a backdrop: they are drawn after the map's own features (the `after` promise),
 * at the zoom the map has then (`firstDrawing`). Drawn as soon as the tiles failed, the 1:110m ones took 50-100 ms
 * of main thread just before a snapshot arrived (a 1,000-point map drawn that much later), and
 * the snapshot's fitted view then swapped them for the 1:50m ones anyway.
 */
import { streetLayers } from './streets.js';

const DETAILED_FROM_ZOOM = 4;
const FILES = { coarse: '/static/world/countries-110m.json', detailed: '/static/world/countries-50m.json' };
const FIRST_DRAWING_WAIT_MS = 3000; // the most the outlines wait for a map that does not come
const TILE_FAILURES = 3; // failed tiles, none loaded, before the tile server counts as down
const STYLE = { stroke: true, color: '#beb8ac', weight: 1, fill: true, fillColor: '#f6f4ee', fillOpacity: 1, interactive: false };

function decodeArcs(topology) {
  const t = topology.transform;
  return topology.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map((p) => {
      if (!t) return [p[1], p[0]];
      x += p[0];
      y += p[1];
      return [y * t.scale[1] + t.translate[1], x * t.scale[0] + t.translate[0]]; // [lat, lon]
    });
  });
}

function ring(arcs, indexes) {
  const points = [];
  for (const index of indexes) {
    const arc = index >= 0 ? arcs[index] : arcs[~index].slice().reverse();
    for (let i = points.length ? 1 : 0; i < arc.length; i += 1) points.push(arc[i]);
  }
  return points;
}

// The part of `points` (a ring, [lat, lon]) on one side of the meridian `edge`: west of it when
// `west`, else east (Sutherland-Hodgman against one half-plane).
function clipAt(points, edge, west) {
  const inside = (p) => (west ? p[1] <= edge : p[1] >= edge);
  const cross = (a, b) => [a[0] + ((edge - a[1]) / (b[1] - a[1])) * (b[0] - a[0]), edge];
  const out = [];
  points.forEach((cur, i) => {
    const prev = points[(i + points.length - 1) % points.length];
    if (inside(cur)) {
      if (!inside(prev)) out.push(cross(prev, cur));
      out.push(cur);
    } else if (inside(prev)) {
      out.push(cross(prev, cur));
    }
  });
  return out;
}

// A ring that crosses the 180th meridian (Russia's Chukotka, Fiji) as its pieces on either side,
// each within -180..180: drawn as it comes, its edges that jump from 180 to -180 would run across
// the whole world and fill a band around it. A ring around a pole (crossing once: Antarctica) is
// left whole; its closing edge runs along the map's bottom.
function acrossDateLine(points) {
  let crossings = 0;
  for (let i = 1; i < points.length; i += 1) if (Math.abs(points[i][1] - points[i - 1][1]) > 180) crossings += 1;
  if (crossings === 0 || crossings % 2) return [points];
  let shift = 0;
  const unwrapped = points.map((p, i) => {
    if (i) {
      const step = p[1] - points[i - 1][1];
      if (step > 180) shift -= 360;
      else if (step < -180) shift += 360;
    }
    return [p[0], p[1] + shift];
  });
  const east = unwrapped.some((p) => p[1] > 180);
  const edge = east ? 180 : -180;
  const near = clipAt(unwrapped, edge, east);
  const far = clipAt(unwrapped, edge, !east).map((p) => [p[0], p[1] + (east ? -360 : 360)]);
  return [near, far].filter((piece) => piece.length >= 3);
}

// One L.polygon per country: its polygons, each an outer ring and its holes (an outer ring across
// the 180th meridian becomes a polygon on each side, its holes with the first).
function countries(topology, renderer) {
  const arcs = decodeArcs(topology);
  const out = [];
  for (const g of topology.objects.countries.geometries) {
    const shapes = g.type === 'Polygon' ? [g.arcs] : g.type === 'MultiPolygon' ? g.arcs : [];
    if (!shapes.length) continue;
    const latlngs = [];
    for (const shape of shapes) {
      const [outer, ...holes] = shape.map((r) => ring(arcs, r));
      acrossDateLine(outer).forEach((piece, i) => latlngs.push(i ? [piece] : [piece, ...holes]));
    }
    out.push(L.polygon(latlngs, Object.assign({ renderer: renderer, pane: 'mapsrvBasemap' }, STYLE)));
  }
  return out;
}

/* The offline world map of `map`, under `tiles` (a tile layer, or null when none is configured:
 * then it is the map). It comes on by itself once TILE_FAILURES tiles failed and none loaded, and
 * is in the layer control. `origin`: where /static/world/ and /basemap/ are (the MCP App's iframe
 * has none of its own). `after`: a promise the outlines wait for before they are drawn (the map's
 * first drawing). `basemaps`: mapsrv's street basemaps (streets.js), over the world map where
 * they have tiles: in the layer control and on with it; without a tile server, on from the start
 * (once `after` has come). Answers {layer, streets, onTiles(fn)}: fn(down) when the tile server is
 * found down, or back. */
export function useOfflineWorld(map, tiles, { origin = '', after = Promise.resolve(), basemaps = [] } = {}) {
  map.createPane('mapsrvBasemap');
  map.getPane('mapsrvBasemap').style.zIndex = 150; // under the tiles (200) and the shapes (400)
  const renderer = L.canvas({ pane: 'mapsrvBasemap', padding: 0.2 });

  // The offline world map as one layer for the layer control, with its attribution.
  const OfflineWorld = L.Layer.extend({
    options: { attribution: 'Natural Earth' },
    onAdd(m) {
      this._group = this._group || L.layerGroup();
      this._group.addTo(m);
      m.getContainer().classList.add('mapsrv-offline');
      m.on('zoomend', this._choose, this);
      this._choose();
    },
    onRemove(m) {
      m.off('zoomend', this._choose, this);
      m.getContainer().classList.remove('mapsrv-offline');
      this._group.remove();
    },
    _which() {
      return this._map.getZoom() >= DETAILED_FROM_ZOOM ? 'detailed' : 'coarse';
    },
    _choose() {
      fetchTopology(this._which()); // the bytes now; decoded and drawn once `after` has come
      after.then(() => this._show());
    },
    _show() {
      if (!this._map) return;
      const which = this._which();
      if (which === this._showing) return;
      this._showing = which;
      load(which).then((shapes) => {
        if (this._showing !== which || !this._map) return;
        this._group.clearLayers();
        for (const shape of shapes) this._group.addLayer(shape);
        document.body.dataset.basemap = 'offline-' + which;
      }).catch(() => { this._showing = null; });
    },
  });

  const fetched = {};
  function fetchTopology(which) {
    if (!fetched[which]) {
      fetched[which] = fetch(origin + FILES[which], { cache: 'force-cache' })
        .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); });
      fetched[which].catch(() => { delete fetched[which]; });
    }
    return fetched[which];
  }
  const loaded = {};
  function load(which) {
    if (!loaded[which]) {
      loaded[which] = fetchTopology(which).then((topology) => countries(topology, renderer));
      loaded[which].catch(() => { delete loaded[which]; });
    }
    return loaded[which];
  }

  const offline = new OfflineWorld();
  const streets = streetLayers(map, basemaps, origin);
  const overlays = { 'Offline world map': offline };
  for (const s of streets) overlays[s.title] = s.layer;
  const listeners = [];
  if (!tiles) {
    offline.addTo(map); // no tile server configured: the offline map is the map, the streets on it
    after.then(() => streets.forEach((s) => s.layer.addTo(map)));
    if (streets.length) L.control.layers(null, overlays, { position: 'bottomleft' }).addTo(map);
  } else {
    // Under the tile pane: tiles that come cover it; where they fail, it shows.
    L.control.layers(null, overlays, { position: 'bottomleft' }).addTo(map);
    let failed = 0;
    let loadedTiles = 0;
    let down = false;
    tiles.on('tileerror', () => {
      failed += 1;
      if (loadedTiles > 0 || failed < TILE_FAILURES || down) return;
      down = true;
      if (!map.hasLayer(offline)) offline.addTo(map);
      streets.forEach((s) => { if (!map.hasLayer(s.layer)) s.layer.addTo(map); });
      listeners.forEach((fn) => fn(true));
    });
    tiles.on('tileload', () => {
      loadedTiles += 1;
      if (!down) return;
      down = false;
      listeners.forEach((fn) => fn(false));
    });
  }
  return { layer: offline, streets: streets, onTiles: (fn) => listeners.push(fn) };
}

// Resolves once `view` (render.js's renderer) has drawn its map for the first time and that
// drawing is on screen (the task after the next frame: the outlines' decoding would otherwise
// hold that frame back), or after FIRST_DRAWING_WAIT_MS when it never comes (a stream that cannot
// connect): useOfflineWorld's `after`.
export function firstDrawing(view) {
  return new Promise((resolve) => {
    view.on('applied', () => requestAnimationFrame(() => setTimeout(resolve, 0)));
    setTimeout(resolve, FIRST_DRAWING_WAIT_MS);
  });
}

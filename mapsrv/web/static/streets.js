/* mapsrv: a street basemap (issue 79) as a Leaflet layer: mapsrv's own vector tiles of an OSM
 * extract (Mapbox Vector Tile 2.1 in Protomaps' basemap schema v4, from /basemap/<name>/), drawn
 * on canvas tiles in the one street style (mapsrv/image/street_style.json, served at
 * /static/street-style.json; map_image draws with it too).
 *
 * Drawn in the style's order: earth, landuse, water (polygons, then lines), buildings, transit,
 * roads (every casing, then every fill, the lesser kinds first), then the labels (streetlabels.js).
 * Polygons of one colour are filled as one path, nonzero: the spec winds outer rings one way and
 * holes the other, so holes stay open and touching polygons of one kind merge. Past the extract's
 * max zoom the part of the max-zoom tile under the tile is drawn larger (lines stay sharp), as
 * archives.js does. Decoded tiles are kept (CACHE): the 4 or 16 tiles overzoomed from one share it.
 *
 * A tile's drawing is one task (decoding is another). Each canvas carries what it drew for tests
 * and people: class `mapsrv-street-tile`, `data-labels` (the label texts, JSON), `data-label-boxes`
 * (their boxes in the tile's CSS pixels, grown by the gap) and `data-draw-ms`.
 */
import { decodeTile, TYPES } from './mvt.js';
import { escapeHtml } from './dom.js';
import { drawLabels, ROAD_KINDS } from './streetlabels.js';

const SIZE = 256;
const CACHE = 96; // decoded tiles kept, across the layer's zooms
const BUILDING_LINE = 0.5; // px, as map_image outlines them

const styles = {};
// The street style, fetched once per origin.
export function loadStyle(origin = '') {
  if (!styles[origin]) {
    styles[origin] = fetch(origin + '/static/street-style.json').then((r) => {
      if (!r.ok) throw new Error('basemap style: HTTP ' + r.status);
      return r.json();
    });
    styles[origin].catch(() => { delete styles[origin]; });
  }
  return styles[origin];
}

// A width at `zoom` from {zoom: px} stops: linear between them, held past the ends.
export function widthAt(stops, zoom) {
  const points = Object.entries(stops).map(([z, w]) => [Number(z), w]).sort((a, b) => a[0] - b[0]);
  if (zoom <= points[0][0]) return points[0][1];
  for (let i = 1; i < points.length; i++) {
    const [z1, w1] = points[i];
    if (zoom <= z1) {
      const [z0, w0] = points[i - 1];
      return w0 + ((w1 - w0) * (zoom - z0)) / (z1 - z0);
    }
  }
  return points[points.length - 1][1];
}

// Adds every part of `features` to the current path, through `px`.
function trace(context, features, px) {
  for (const f of features) {
    for (const part of f.parts) {
      for (let i = 0; i < part.length; i++) {
        const [x, y] = px(part[i]);
        if (i === 0) context.moveTo(x, y);
        else context.lineTo(x, y);
      }
    }
  }
}

function of(layer, type, test = () => true) {
  return layer ? layer.features.filter((f) => f.type === type && test(f.properties)) : [];
}

function fillByColour(context, features, colourOf, px) {
  const groups = new Map();
  for (const f of features) {
    const colour = colourOf(f.properties);
    if (!colour) continue; // a kind the style does not draw
    if (!groups.has(colour)) groups.set(colour, []);
    groups.get(colour).push(f);
  }
  for (const [colour, group] of groups) {
    context.beginPath();
    trace(context, group, px);
    context.fillStyle = colour;
    context.fill('nonzero');
  }
}

function stroke(context, features, colour, width, px, dash = null) {
  if (!features.length || !colour || !(width > 0)) return;
  context.beginPath();
  trace(context, features, px);
  context.strokeStyle = colour;
  context.lineWidth = width;
  context.setLineDash(dash || []);
  context.stroke();
  context.setLineDash([]);
}

// Draws `layers` (a decoded tile) on `context` (CSS pixels) at `zoom`: `scale` and the shift say
// which part of the tile the canvas shows (overzoom). Answers the labels drawn.
export function drawStreets(context, layers, style, zoom, scale = 1, shiftX = 0, shiftY = 0) {
  const byName = {};
  for (const layer of layers) byName[layer.name] = layer;
  const pxOf = (layer) => {
    const k = (SIZE * scale) / ((layer && layer.extent) || 4096);
    return (p) => [p[0] * k - shiftX, p[1] * k - shiftY];
  };
  const P = TYPES.POLYGON, LINE = TYPES.LINE;
  context.lineCap = 'round';
  context.lineJoin = 'round';
  fillByColour(context, of(byName.earth, P), () => style.earth, pxOf(byName.earth));
  fillByColour(context, of(byName.landuse, P), (p) => style.landuse[p.kind], pxOf(byName.landuse));
  fillByColour(context, of(byName.water, P), () => style.water.fill, pxOf(byName.water));
  stroke(context, of(byName.water, LINE), style.water.line, widthAt(style.water.widths, zoom), pxOf(byName.water));
  const b = style.buildings;
  if (zoom >= b.from && byName.buildings) {
    const px = pxOf(byName.buildings);
    const buildings = of(byName.buildings, P);
    fillByColour(context, buildings, () => b.fill, px);
    stroke(context, buildings, b.stroke, BUILDING_LINE, px);
  }
  for (const [kind, rule] of Object.entries(style.transit)) {
    if (zoom < rule.from) continue;
    const lines = of(byName.transit, LINE, (p) => p.kind === kind);
    stroke(context, lines, rule.line, widthAt(rule.widths, zoom), pxOf(byName.transit), rule.dash);
  }
  const kinds = ROAD_KINDS.slice().reverse().filter((kind) => style.roads[kind] && zoom >= style.roads[kind].from);
  const roads = kinds.map((kind) => [style.roads[kind], of(byName.roads, LINE, (p) => p.kind === kind)]);
  const px = pxOf(byName.roads);
  for (const [rule, lines] of roads) {
    const casing = rule.casing_widths ? widthAt(rule.casing_widths, zoom) : 0; // on each side of the fill
    stroke(context, lines, rule.casing, widthAt(rule.widths, zoom) + 2 * casing, px);
  }
  for (const [rule, lines] of roads) stroke(context, lines, rule.fill, widthAt(rule.widths, zoom), px, rule.dash);
  return drawLabels(context, byName, style, zoom, pxOf, SIZE);
}

// A tile's bytes, unpacked when they are gzip's (the archive stores tiles gzipped; a server that
// answers with them as they are stored, without Content-Encoding, is read all the same).
async function gunzipped(buffer) {
  const bytes = buffer ? new Uint8Array(buffer) : null;
  if (!bytes || bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// The tiles of one basemap, fetched and decoded once each (the last CACHE kept): null where there
// is none (204).
function tileSource(template) {
  const cache = new Map();
  return (z, x, y) => {
    const key = z + '/' + x + '/' + y;
    let tile = cache.get(key);
    if (tile) {
      cache.delete(key); // most recently used last
    } else {
      const url = template.replace('{z}', z).replace('{x}', x).replace('{y}', y);
      tile = fetch(url).then((r) => {
        if (r.status === 204) return null;
        if (!r.ok) throw new Error('basemap tile ' + key + ': HTTP ' + r.status);
        return r.arrayBuffer();
      }).then(gunzipped).then((bytes) => (bytes && bytes.length ? decodeTile(bytes) : null));
      tile.catch(() => cache.delete(key));
    }
    cache.set(key, tile);
    if (cache.size > CACHE) cache.delete(cache.keys().next().value);
    return tile;
  };
}

/* A Leaflet layer for one street basemap: `basemap` {name, title, url (with {z}/{x}/{y}), minzoom,
 * maxzoom, bounds: [west, south, east, north], attribution}; `style()` answers a promise of the
 * street style (asked for once a tile is drawn).
 * No tile is asked for outside the bounds or below minzoom. */
export function streetLayer(basemap, style, options = {}) {
  const b = basemap.bounds || [-180, -85.0511, 180, 85.0511];
  const tile = tileSource(basemap.url);
  const Layer = L.GridLayer.extend({
    createTile(coords, done) {
      const canvas = document.createElement('canvas');
      canvas.className = 'mapsrv-street-tile';
      const ratio = Math.min(window.devicePixelRatio || 1, 2); // 2x: ~3x the drawing time of 1x
      canvas.width = canvas.height = Math.round(SIZE * ratio);
      draw(canvas, coords, ratio).then(() => done(null, canvas), (error) => done(error, canvas));
      return canvas;
    },
  });

  async function draw(canvas, coords, ratio) {
    const deeper = Math.max(0, coords.z - basemap.maxzoom);
    const scale = Math.pow(2, deeper);
    const x = Math.floor(coords.x / scale), y = Math.floor(coords.y / scale);
    const [layers, rules] = await Promise.all([tile(coords.z - deeper, x, y), style()]);
    let labels = [];
    const started = performance.now();
    if (layers) {
      const context = canvas.getContext('2d');
      context.scale(ratio, ratio);
      const shiftX = (coords.x - x * scale) * SIZE, shiftY = (coords.y - y * scale) * SIZE;
      labels = drawStreets(context, layers, rules, coords.z, scale, shiftX, shiftY);
    }
    canvas.dataset.labels = JSON.stringify(labels.map((l) => l.text));
    canvas.dataset.labelBoxes = JSON.stringify(labels.map((l) => l.box.map((v) => Math.round(v * 10) / 10)));
    canvas.dataset.drawMs = (performance.now() - started).toFixed(1);
  }

  return new Layer(Object.assign({
    bounds: L.latLngBounds([b[1], b[0]], [b[3], b[2]]),
    minZoom: basemap.minzoom || 0,
    attribution: escapeHtml(basemap.attribution || ''),
    updateWhenZooming: false, // one drawing a tile at the zoom the map settles on
  }, options));
}

/* The street layers of `map`, one per basemap (descriptions as the server gives them, urls
 * relative to `origin`), in a pane of their own above the offline world map (150) and under the
 * tiles (200) and the shapes. document.body.dataset.streets names those on the map (spaces
 * between). Answers [{title, layer}]; nothing is fetched until a layer is on the map. */
export function streetLayers(map, basemaps, origin = '') {
  if (!basemaps || !basemaps.length) return [];
  map.createPane('mapsrvStreets');
  map.getPane('mapsrvStreets').style.zIndex = 175;
  const out = basemaps.map((basemap) => {
    const layer = streetLayer(Object.assign({}, basemap, { url: origin + basemap.url }), () => loadStyle(origin), { pane: 'mapsrvStreets' });
    layer.streetName = basemap.name;
    return { title: basemap.title || basemap.name, layer: layer };
  });
  const shown = () => {
    document.body.dataset.streets = out.filter((s) => map.hasLayer(s.layer)).map((s) => s.layer.streetName).join(' ');
  };
  map.on('layeradd layerremove', shown);
  shown();
  return out;
}

/* mapsrv page: a big map's points, drawn on a canvas of their own and clustered at low zoom.
 *
 * A Leaflet layer per point (an object, its listeners, a projection on every zoom) was most of
 * what a 10,000-point map cost after its labels were fixed, and 100,000 would take seconds. Here a
 * point is a small `PointRef` (what the rest of the page needs of a layer: getLatLng, on, options,
 * setStyle, bindPopup) in a `PointsLayer`, one per map layer. Each point's Web Mercator position is
 * computed once, as a fraction of the world; a zoom only multiplies it.
 *
 * Clusters, as the map image draws them (mapsrv/image/render.py): from CLUSTER_FROM points on the
 * map, below UNCLUSTER_ZOOM, the points that fall in one CELL x CELL square of the world's pixel
 * grid at that zoom are one disc with their count. The grid belongs to the world, not the screen,
 * so clusters are computed once per zoom and a pan only draws them again. A click on a cluster
 * zooms to its points' extent; a point alone in its cell is drawn as itself (and may be labelled).
 *
 * Pointer events: the canvas lets them through (lines drawn by Leaflet lie under it); one listener
 * per map, capturing on its container, finds the point or cluster under the pointer and keeps a
 * click on one from the map.
 */

const RADIUS = 6; // px: a point
const CLUSTER_FROM = 5000; // points on the map (the image's threshold)
const UNCLUSTER_ZOOM = 17; // from here every point is drawn as itself
const CELL = 48; // px: the image's cell
const PADDING = 0.2; // of the view, drawn beyond each edge (seen while a drag moves the map)
const PANE = 'mapsrvPoints';
const TILE = 256;
const MAX_LAT = 85.0511287798; // Web Mercator's square
const SYMBOL_COLOR = '#2563eb';
const HIT_SLOP = 3; // px around a point that still hits it

const clusterColor = (n) => (n < 100 ? '#2563eb' : n < 1000 ? '#7c3aed' : '#ea580c');
const clusterRadius = (n) => 10 + Math.min(12, 6 * Math.log10(Math.max(n, 1)));
const countText = (n) => (n >= 10000 ? Math.round(n / 1000) + 'k' : String(n));

// [0, 1) across the world, as Leaflet's EPSG:3857 projects before scaling by 256 * 2^zoom.
function mercator(lat, lng) {
  const phi = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI / 180;
  return [0.5 + lng / 360, 0.5 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / (2 * Math.PI)];
}

// ---------------------------------------------------------------- a point

class PointRef {
  constructor(id, coords, style) {
    this.id = id;
    this.lat = coords[0];
    this.lng = coords[1];
    [this.mx, this.my] = mercator(this.lat, this.lng);
    this.options = { radius: RADIUS, color: '#ffffff', weight: 1.5, fillColor: style.color || SYMBOL_COLOR };
    this.owner = null; // its PointsLayer
    this.clustered = false; // at the zoom last drawn
    this.popup = null;
    this.handlers = null;
    this.box = null; // its symbol's, as symbolBox last answered
  }

  // The box its symbol covers around it, in px (labels keep off it).
  symbolBox() {
    const r = (this.options.radius || 0) + (this.options.weight || 0) / 2;
    if (!this.box || this.box[2] !== r) this.box = [-r, -r, r, r];
    return this.box;
  }

  getLatLng() { return L.latLng(this.lat, this.lng); }

  on(type, fn) {
    if (!this.handlers) this.handlers = {};
    for (const t of type.split(' ')) (this.handlers[t] || (this.handlers[t] = [])).push(fn);
    return this;
  }

  fire(type, event) {
    const list = this.handlers && this.handlers[type];
    if (list) for (const fn of list) fn.call(this, event);
  }

  setStyle(style) {
    Object.assign(this.options, style);
    if (this.owner) this.owner.redrawSoon();
    return this;
  }

  bindPopup(content) {
    this.popup = content; // a DOM node (map.js): Leaflet would take a string as HTML
    return this;
  }
}

const DENSE_FROM = 20000; // points in view
const denseLooks = new Map();
// A dense point's look: opaque (its pixels are copied, not blended), and a dot unless its size
// is a proportional layer's value.
function denseLook(o) {
  const radius = o.sized ? Math.round(o.radius * 2) / 2 : 2.5;
  const key = o.fillColor + ' ' + radius;
  let look = denseLooks.get(key);
  if (!look) {
    look = o.sized
      ? { radius: radius, fillColor: o.fillColor, color: '#ffffff', weight: 1, sized: true }
      : { radius: radius, fillColor: o.fillColor, color: 'rgba(255,255,255,0.6)', weight: 0.5 };
    if (denseLooks.size > 1024) denseLooks.clear();
    denseLooks.set(key, look);
  }
  return look;
}

// Dense dots copied pixel by pixel (source over, straight alpha) into the canvas's pixels, which
// are read once and written once per redraw: 100,000 drawImage calls took 0.3 s and more.
function blit(ctx, dots, ratio, alone) {
  const width = ctx.canvas.width;
  const height = ctx.canvas.height;
  // alone: nothing drawn yet (the canvas was cleared), so nothing to read back
  const image = alone ? ctx.createImageData(width, height) : ctx.getImageData(0, 0, width, height);
  const out = new Uint32Array(image.data.buffer);
  const bytes = image.data;
  for (const [sprite, xy] of dots) {
    if (!sprite.pixels) {
      const c = sprite.canvas;
      sprite.pixels = new Uint32Array(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.buffer);
    }
    blitOne(out, bytes, width, height, sprite, xy, ratio);
  }
  ctx.putImageData(image, 0, 0);
}

function blitOne(out, bytes, width, height, sprite, xy, ratio) {
  const src = sprite.pixels;
  const side = sprite.canvas.width;
  const half = Math.round(sprite.half * ratio);
  for (let i = 0; i < xy.length; i += 2) {
    const x0 = Math.round(xy[i] * ratio) - half;
    const y0 = Math.round(xy[i + 1] * ratio) - half;
    const sx = x0 < 0 ? -x0 : 0;
    const sy = y0 < 0 ? -y0 : 0;
    const ex = Math.min(side, width - x0);
    const ey = Math.min(side, height - y0);
    for (let y = sy; y < ey; y += 1) {
      let d = (y0 + y) * width + x0 + sx;
      let k = y * side + sx;
      for (let x = sx; x < ex; x += 1, d += 1, k += 1) {
        const c = src[k];
        const a = c >>> 24;
        if (a === 0) continue;
        const under = out[d] >>> 24;
        if (a === 255 || under === 0) {
          out[d] = c;
          continue;
        }
        const j = d << 2;
        const sa = a / 255;
        const da = (under / 255) * (1 - sa);
        const oa = sa + da;
        bytes[j] = ((c & 255) * sa + bytes[j] * da) / oa;
        bytes[j + 1] = (((c >>> 8) & 255) * sa + bytes[j + 1] * da) / oa;
        bytes[j + 2] = (((c >>> 16) & 255) * sa + bytes[j + 2] * da) / oa;
        bytes[j + 3] = oa * 255;
      }
    }
  }
}

// ---------------------------------------------------------------- the points of one map layer

const PointsLayer = L.Layer.extend({
  options: { pane: PANE },

  initialize() {
    this._points = new Map(); // id -> PointRef
    this._key = null; // what the items were computed for: zoom and clustering
    this._items = null; // [wx, wy, ref] points alone, [wx, wy, n, minx, miny, maxx, maxy] clusters
    this._drawn = []; // what the last redraw drew, in layer pixels: [x, y, r, item]
    this._frame = 0;
    this.cluster = true; // false: a layer styled by value, whose points must show their classes
  },

  setCluster(on) {
    if (this.cluster === !!on) return;
    this.cluster = !!on;
    this._changed();
  },

  add(ref) {
    ref.owner = this;
    this._points.set(ref.id, ref);
    this._changed();
  },

  remove(ref) {
    if (this._points.get(ref.id) === ref) this._points.delete(ref.id);
    ref.owner = null;
    this._changed();
  },

  size() { return this._points.size; },

  _changed() {
    this._key = null;
    this.redrawSoon();
  },

  onAdd(map) {
    if (!map.getPane(PANE)) {
      map.createPane(PANE).style.zIndex = 450; // over Leaflet's shapes (400), under markers (600)
    }
    this._canvas = L.DomUtil.create('canvas', 'mapsrv-points');
    this._canvas.style.pointerEvents = 'none';
    this.getPane().appendChild(this._canvas);
    map.on('moveend resize viewreset', this.redraw, this);
    map.on('zoomstart', this._hide, this);
    registry(map).add(this);
    this.redraw();
  },

  onRemove(map) {
    map.off('moveend resize viewreset', this.redraw, this);
    map.off('zoomstart', this._hide, this);
    registry(map).delete(this);
    this._canvas.remove();
    this._canvas = null;
    this._drawn = [];
    for (const other of registry(map)) other._changed(); // the map's total may have crossed CLUSTER_FROM
  },

  // Leaflet scales its own layers while a zoom animates; this canvas comes back on moveend.
  _hide() { if (this._canvas) this._canvas.style.visibility = 'hidden'; },

  redrawSoon() {
    if (this._frame || !this._map || this._map.mapsrvPointsHeld) return;
    this._frame = requestAnimationFrame(() => { this._frame = 0; this.redraw(); });
  },

  // The points and clusters at the map's zoom, computed again only when the zoom, the points or
  // the map's total (clustering on or off) changed.
  prepare() {
    const map = this._map;
    if (!map) return null;
    const zoom = map.getZoom();
    const cluster = this.cluster && zoom < UNCLUSTER_ZOOM && total(map) >= CLUSTER_FROM;
    const key = zoom + (cluster ? 'c' : 'p');
    if (key === this._key) return this._items;
    const scale = TILE * Math.pow(2, zoom);
    const items = [];
    if (!cluster) {
      for (const ref of this._points.values()) {
        ref.clustered = false;
        items.push([ref.mx * scale, ref.my * scale, ref]);
      }
    } else {
      const cells = new Map();
      const cellOf = new Array(this._points.size);
      let i = 0;
      for (const ref of this._points.values()) {
        const x = ref.mx * scale;
        const y = ref.my * scale;
        const key = Math.floor(x / CELL) * 4194304 + Math.floor(y / CELL); // 2^22 cells a row
        let cell = cells.get(key);
        if (!cell) {
          cell = [0, 0, 0, x, y, x, y, ref];
          cells.set(key, cell);
        }
        cell[0] += 1;
        cell[1] += x;
        cell[2] += y;
        if (x < cell[3]) cell[3] = x;
        if (y < cell[4]) cell[4] = y;
        if (x > cell[5]) cell[5] = x;
        if (y > cell[6]) cell[6] = y;
        cellOf[i++] = cell;
      }
      i = 0;
      for (const ref of this._points.values()) ref.clustered = cellOf[i++][0] > 1;
      for (const [n, sx, sy, minx, miny, maxx, maxy, first] of cells.values()) {
        if (n === 1) items.push([sx, sy, first]);
        else items.push([sx / n, sy / n, n, minx / scale, miny / scale, maxx / scale, maxy / scale]);
      }
    }
    this._key = key;
    this._items = items;
    return items;
  },

  redraw() {
    const map = this._map;
    const canvas = this._canvas;
    if (!map || !canvas || map.mapsrvPointsHeld) return;
    const items = this.prepare();
    const size = map.getSize();
    const pad = size.multiplyBy(PADDING).round();
    const topLeft = map.containerPointToLayerPoint(pad.multiplyBy(-1)).round();
    const width = size.x + 2 * pad.x;
    const height = size.y + 2 * pad.y;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.width = width + 'px';
      canvas.style.height = height + 'px';
    }
    L.DomUtil.setPosition(canvas, topLeft);
    canvas.style.visibility = '';
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const origin = map.getPixelOrigin();
    const dx = origin.x + topLeft.x; // world pixel -> canvas pixel
    const dy = origin.y + topLeft.y;
    const drawn = [];
    const clusters = [];
    // Each look (colour, size, opacity) is drawn once on a sprite, and each point is a copy of
    // it: 100,000 arcs filled and stroked took seconds on a software canvas. Bigger ones first, so
    // a small proportional circle is not hidden under a big one.
    // Dense (more points in view than pixels can tell apart): small dots without a rim, a tenth
    // of the pixels each; a proportional layer's sizes are its data and stay.
    let inView = 0;
    if (items.length >= DENSE_FROM) {
      for (const item of items) {
        const x = item[0] - dx;
        const y = item[1] - dy;
        if (x >= 0 && y >= 0 && x <= width && y <= height) inView += 1;
      }
    }
    const dense = inView >= DENSE_FROM;
    const looks = new Map();
    for (const item of items) {
      const x = item[0] - dx;
      const y = item[1] - dy;
      if (x < -50 || y < -50 || x > width + 50 || y > height + 50) continue;
      if (typeof item[2] === 'number') {
        clusters.push([x, y, item]);
        continue;
      }
      let o = item[2].options;
      if (dense) o = denseLook(o);
      // sizes to the half pixel: a proportional layer's sizes are as many as its values
      const key = o.fillColor + ' ' + Math.round(o.radius * 2) / 2 + ' ' + o.fillOpacity + ' ' + o.color + ' ' + o.weight;
      let look = looks.get(key);
      if (!look) {
        look = { o: o, xy: [] };
        looks.set(key, look);
      }
      look.xy.push(x, y);
      drawn.push([x + topLeft.x, y + topLeft.y, o.radius + HIT_SLOP, item]);
    }
    const ordered = Array.from(looks.entries());
    if (ordered.length > 1) ordered.sort((a, b) => b[1].o.radius - a[1].o.radius);
    const dots = []; // [sprite, xy]: a drawImage each costs more than copying the dot's few pixels
    for (const [key, { o, xy }] of ordered) {
      const sprite = this._sprite(key, o, ratio);
      if (dense) {
        dots.push([sprite, xy]);
        continue;
      }
      const half = sprite.half;
      for (let i = 0; i < xy.length; i += 2) {
        ctx.drawImage(sprite.canvas, Math.round(xy[i] - half), Math.round(xy[i + 1] - half), sprite.size, sprite.size);
      }
    }
    if (dots.length) blit(ctx, dots, ratio, dots.length === ordered.length);
    // Clusters over single points, their counts as canvas text (never markup).
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.font = '700 11px system-ui, sans-serif';
    for (const [x, y, item] of clusters) {
      const r = clusterRadius(item[2]);
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = clusterColor(item[2]);
      ctx.globalAlpha = 0.9;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
      ctx.fillStyle = '#ffffff';
      ctx.fillText(countText(item[2]), x, y + 0.5);
      drawn.push([x + topLeft.x, y + topLeft.y, r, item]);
    }
    this._drawn = drawn;
    this._origin = map.getPixelOrigin();
    this._layerZoom = map.getZoom();
  },

  // A point's look drawn once, at the screen's pixel ratio (kept per layer, a few hundred at most).
  _sprite(key, o, ratio) {
    if (!this._sprites || this._sprites.size > 512) this._sprites = new Map();
    let sprite = this._sprites.get(key + ' ' + ratio);
    if (sprite) return sprite;
    const radius = Math.round(o.radius * 2) / 2;
    const half = Math.ceil(radius + o.weight / 2 + 1);
    const size = 2 * half;
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = Math.ceil(size * ratio);
    const ctx = canvas.getContext('2d');
    ctx.scale(ratio, ratio);
    ctx.beginPath();
    ctx.arc(half, half, radius, 0, 2 * Math.PI);
    ctx.fillStyle = o.fillColor;
    ctx.globalAlpha = typeof o.fillOpacity === 'number' ? o.fillOpacity : 1;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.lineWidth = o.weight;
    ctx.strokeStyle = o.color;
    ctx.stroke();
    sprite = { canvas: canvas, half: half, size: size, pixels: null };
    this._sprites.set(key + ' ' + ratio, sprite);
    return sprite;
  },

  // What was drawn at layer point p (topmost first), or null.
  hit(p) {
    const map = this._map;
    if (!this._origin || this._layerZoom !== map.getZoom() || !this._origin.equals(map.getPixelOrigin())) return null;
    for (let i = this._drawn.length - 1; i >= 0; i -= 1) {
      const [x, y, r, item] = this._drawn[i];
      const dx = p.x - x;
      const dy = p.y - y;
      if (dx * dx + dy * dy <= r * r) return item;
    }
    return null;
  },

  // The clusters at the map's view, as boxes in layer pixels (labels keep off them).
  clusterBoxes() {
    const items = this.prepare();
    if (!items) return [];
    const origin = this._map.getPixelOrigin();
    const boxes = [];
    for (const item of items) {
      if (typeof item[2] !== 'number') continue;
      const r = clusterRadius(item[2]);
      const x = item[0] - origin.x;
      const y = item[1] - origin.y;
      boxes.push([Math.floor(x - r), Math.floor(y - r), Math.ceil(x + r), Math.ceil(y + r)]);
    }
    return boxes;
  },

  // A cluster's extent, for the click that zooms to it.
  clusterBounds(item) {
    const corner = (mx, my) => {
      const lng = (mx - 0.5) * 360;
      const lat = (2 * Math.atan(Math.exp((0.5 - my) * 2 * Math.PI)) - Math.PI / 2) * 180 / Math.PI;
      return L.latLng(lat, lng);
    };
    return L.latLngBounds(corner(item[3], item[6]), corner(item[5], item[4]));
  },
});

// ---------------------------------------------------------------- the map's points layers

function registry(map) {
  if (!map.mapsrvPoints) {
    map.mapsrvPoints = new Set();
    listen(map);
  }
  return map.mapsrvPoints;
}

function total(map) {
  let n = 0;
  for (const layer of registry(map)) n += layer.size();
  return n;
}

// While a snapshot is drawn in slices (render.js drawBacklog) its points are drawn, and their
// clusters computed, once after the last slice rather than in each frame between slices.
function holdPoints(map, on) {
  if (!!map.mapsrvPointsHeld === on) return;
  map.mapsrvPointsHeld = on;
  if (!on) for (const layer of registry(map)) layer.redraw();
}

// Every points layer of the map, their clusters current: labels ask before they are placed.
function preparePoints(map) {
  for (const layer of registry(map)) layer.prepare();
}

function clusterBoxes(map) {
  const boxes = [];
  for (const layer of registry(map)) boxes.push(...layer.clusterBoxes());
  return boxes;
}

// Not the map's surface: what floats over it takes its own pointer events.
const OVER = '.leaflet-control-container, .leaflet-popup-pane, .leaflet-marker-pane, .leaflet-tooltip-pane';

function listen(map) {
  const container = map.getContainer();
  let hovered = null;

  function hitAt(event) {
    if (!(event.target instanceof Element) || event.target.closest(OVER)) return null;
    if (!container.contains(event.target)) return null;
    const p = map.mouseEventToLayerPoint(event);
    const layers = Array.from(map.mapsrvPoints).reverse();
    for (const layer of layers) {
      const item = layer._map ? layer.hit(p) : null;
      if (item) return { layer: layer, item: item };
    }
    return null;
  }

  function hover(ref) {
    if (ref === hovered) return;
    if (hovered) hovered.fire('mouseout', { target: hovered });
    hovered = ref;
    if (ref) ref.fire('mouseover', { target: ref });
  }

  container.addEventListener('mousemove', (event) => {
    if (event.buttons) return; // a drag of the map
    const found = hitAt(event);
    container.classList.toggle('mapsrv-over-point', !!found);
    hover(found && typeof found.item[2] !== 'number' ? found.item[2] : null);
  }, true);
  container.addEventListener('mouseleave', () => {
    container.classList.remove('mapsrv-over-point');
    hover(null);
  });
  map.on('zoomstart movestart', () => hover(null));

  container.addEventListener('click', (event) => {
    if (map.dragging && map.dragging.moved()) return;
    const found = hitAt(event);
    if (!found) return;
    // The map's own listener (bubbling, on this container) must not see it: it would
    // deselect what this click selects.
    event.stopPropagation();
    const { layer, item } = found;
    if (typeof item[2] === 'number') {
      map.fitBounds(layer.clusterBounds(item), { padding: [40, 40], maxZoom: UNCLUSTER_ZOOM });
      return;
    }
    const ref = item[2];
    const latlng = ref.getLatLng();
    ref.fire('click', { target: ref, latlng: latlng, originalEvent: event });
    if (ref.popup) L.popup({ maxWidth: 320 }).setLatLng(latlng).setContent(ref.popup).openOn(map);
  }, true);
}

// What the map's points layers drew, in container pixels: [x, y, count, id] (id of a point
// alone, null for a cluster). For tests and tools.
function drawnPoints(map) {
  const out = [];
  for (const layer of registry(map)) {
    for (const [x, y, , item] of layer._drawn) {
      const p = map.layerPointToContainerPoint([x, y]);
      const cluster = typeof item[2] === 'number';
      out.push([p.x, p.y, cluster ? item[2] : 1, cluster ? null : item[2].id]);
    }
  }
  return out;
}

export { CLUSTER_FROM, RADIUS, PointRef, mercator, PointsLayer, clusterBoxes, drawnPoints, holdPoints, preparePoints };

/* mapsrv: a layer's style by value (issue 45), on the page and in the MCP App: which colour, size,
 * label and visibility each of the layer's features gets from its properties, and the heat layer
 * a heatmap style draws. The style is the map state's (docs/protocol.md, a layer's `style`): the
 * server computed its breaks, colours and largest value; here each feature is only classified.
 *
 * `compileStyle(raw)` answers null (no style: each feature's own colours) or a compiled style
 * whose `paint(f, window)` answers what one feature looks like: {hidden, color, radius, opacity}
 * (color null: the feature's own), cheap enough to run for 100,000 points in one restyle.
 */

import { pushTimes, timeMs } from './times.js';
import { formatNumber, isNumberSpec } from './numbers.js';

const FALLBACK = '#999999';
export const POINT_RADIUS = 7; // px: a classified point
const NUMERIC = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

// A property's number: a number, or a string that is one ("1200" from a CSV); else null.
export function numberOf(value) {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && NUMERIC.test(value)) return Number(value);
  return null;
}

const props = (f) => (f && f.properties && typeof f.properties === 'object' ? f.properties : {});

// A place's rows by time (mapsrv/core/series.py): a feature whose `series` names its list of
// times shows, under the window `win` ([from, to] in ms, either end open, or null), its row at the
// latest of its times inside it (on a tie the last; none inside, or no window: its latest row):
// each property holding a list as long as the times gives that row's value. Any other feature:
// its properties as they are. Kept per feature for its last window (a restyle asks several times).
const ROWS = new WeakMap();
export function propsAt(f, win) {
  const p = props(f);
  const times = f && typeof f.series === 'string' && f.series ? p[f.series] : null;
  if (!Array.isArray(times) || !times.length) return p;
  const from = win ? win[0] : null;
  const to = win ? win[1] : null;
  const kept = ROWS.get(f);
  if (kept && kept.of === p && kept.from === from && kept.to === to) return kept.row;
  let inside = -1;
  let insideAt = -Infinity;
  let latest = -1;
  let latestAt = -Infinity;
  for (let i = 0; i < times.length; i += 1) {
    const t = timeMs(times[i]);
    if (t === null) continue;
    if (t >= latestAt) [latest, latestAt] = [i, t];
    if ((from === null || t >= from) && (to === null || t <= to) && t >= insideAt) [inside, insideAt] = [i, t];
  }
  const at = inside >= 0 ? inside : latest;
  if (at < 0) return p;
  const row = {};
  for (const key of Object.keys(p)) {
    const v = p[key];
    row[key] = Array.isArray(v) && v.length === times.length ? v[at] : v;
  }
  ROWS.set(f, { of: p, from: from, to: to, row: row });
  return row;
}

// The text of a property for a label: missing (or null) is "".
function textOf(value) {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(textOf).join(', ');
  if (typeof value === 'object') return JSON.stringify(value); // a nested object: its JSON text
  return String(value);
}

const TEMPLATE = /\{([^{}]*)\}/g;

// A template field's property and format spec: "gdp:,.0f" is ["gdp", ",.0f"]; a field that is a
// property itself ("addr:street"), or whose part after its last colon is no spec, has none (as
// mapsrv/core/style_rules.py field_of).
export function fieldOf(field, p) {
  const at = field.lastIndexOf(':');
  if (at <= 0 || (p && Object.prototype.hasOwnProperty.call(p, field))) return [field, ''];
  const spec = field.slice(at + 1);
  return isNumberSpec(spec) ? [field.slice(0, at), spec] : [field, ''];
}

// A property's value in a label: a number formatted for people (numbers.js), by the field's spec
// when it has one (then a number written as text is formatted too).
function labelText(value, spec) {
  if (Array.isArray(value)) return value.map((v) => labelText(v, spec)).join(', ');
  if (typeof value === 'number' && Number.isFinite(value)) return formatNumber(value, spec);
  if (spec && typeof value === 'string' && numberOf(value) !== null) return formatNumber(numberOf(value), spec);
  return textOf(value);
}

// "{name} ({population:,.0f})": each {prop} replaced by the feature's property as text, numbers
// formatted for people; the result is text, and only ever reaches the DOM through textContent.
export function labelOf(template, f, p = props(f)) {
  return String(template).replace(TEMPLATE, (_, field) => {
    const [key, spec] = fieldOf(field, p);
    if (Object.prototype.hasOwnProperty.call(p, key)) return labelText(p[key], spec);
    // an import moves a file's name into the label (as mapsrv/core/style_rules.py label_of)
    if (key === 'label' || key === 'name') return textOf(f.label);
    return '';
  });
}

// The class of `value` among ascending `breaks` (n + 1 edges: the lowest value, then each class's
// upper bound, mapclassify's bins): (b[i], b[i+1]], the first class its lower edge too, so a value
// on a break is in the class below it; below the first edge the first class, above the last the
// last (a feature added after the breaks were computed is still coloured), as
// mapsrv/core/classify.py's class_of.
export function classOf(value, breaks) {
  const n = breaks.length - 1;
  if (n < 1) return null;
  if (value <= breaks[1]) return 0;
  if (value > breaks[n - 1]) return n - 1;
  let lo = 1; // the first edge not below value, less one
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (breaks[mid + 1] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function compare(a, b) {
  const x = numberOf(a);
  const y = numberOf(b);
  if (x !== null && y !== null) return x < y ? -1 : x > y ? 1 : 0;
  const s = textOf(a);
  const t = textOf(b);
  return s < t ? -1 : s > t ? 1 : 0;
}

// The style's filter as a predicate on a feature's properties.
function filterOf(filter) {
  if (!filter || typeof filter !== 'object' || typeof filter.property !== 'string') return null;
  const key = filter.property;
  const want = filter.value;
  const has = (p) => Object.prototype.hasOwnProperty.call(p, key) && p[key] !== null;
  switch (filter.op || '==') {
    case '==': return (p) => has(p) && compare(p[key], want) === 0;
    case '!=': return (p) => !has(p) || compare(p[key], want) !== 0;
    case '<': return (p) => has(p) && compare(p[key], want) < 0;
    case '<=': return (p) => has(p) && compare(p[key], want) <= 0;
    case '>': return (p) => has(p) && compare(p[key], want) > 0;
    case '>=': return (p) => has(p) && compare(p[key], want) >= 0;
    case 'in': {
      const set = new Set([].concat(want).map(textOf));
      return (p) => has(p) && set.has(textOf(p[key]));
    }
    case 'contains': {
      const needle = textOf(want);
      return (p) => has(p) && textOf(p[key]).includes(needle);
    }
    default: return () => true;
  }
}

// A feature's times in ms (its time property: a value, or a per-point list).
export function timesOf(f, property) {
  const out = [];
  pushTimes(props(f)[property], out);
  return out;
}

export function compileStyle(raw) {
  if (!raw || typeof raw !== 'object') return null;
  const kind = raw.kind;
  const by = typeof raw.by === 'string' ? raw.by : null;
  const other = typeof raw.other === 'string' ? raw.other : FALLBACK;
  let colorOf = () => null;
  let radiusOf = () => POINT_RADIUS;
  let opacity = 0.85;
  if (kind === 'graduated' && Array.isArray(raw.breaks) && Array.isArray(raw.colors)) {
    const breaks = raw.breaks.map(Number);
    const colors = raw.colors.map(String);
    colorOf = (p) => {
      const v = by === null ? null : numberOf(p[by]);
      const i = v === null ? null : classOf(v, breaks);
      return i === null || !colors[i] ? other : colors[i];
    };
  } else if (kind === 'categorical') {
    const categories = new Map(Object.entries(raw.categories || {}).map(([k, v]) => [k, String(v)]));
    colorOf = (p) => {
      const v = by === null ? undefined : p[by];
      return (v !== undefined && v !== null && categories.get(textOf(v))) || other;
    };
  } else if (kind === 'proportional') {
    const color = typeof raw.color === 'string' ? raw.color : '#3182bd';
    const low = Number.isFinite(raw.min_size) ? raw.min_size : 4;
    const high = Number.isFinite(raw.max_size) ? raw.max_size : 40;
    const top = Number.isFinite(raw.max_value) && raw.max_value > 0 ? raw.max_value : 1;
    // a feature without a number: the other colour at the smallest size (as the map image); with
    // color_by, its category's colour (core/style_rules.py color_of)
    const colorBy = typeof raw.color_by === 'string' ? raw.color_by : null;
    const categories = new Map(Object.entries(raw.categories || {}).map(([k, v]) => [k, String(v)]));
    colorOf = colorBy === null
      ? (p) => (by !== null && numberOf(p[by]) !== null ? color : other)
      : (p) => {
        const v = p[colorBy];
        return (v !== undefined && v !== null && categories.get(textOf(v))) || other;
      };
    radiusOf = (p) => {
      const v = by === null ? null : numberOf(p[by]);
      if (v === null) return low;
      return low + (high - low) * Math.sqrt(Math.min(1, Math.abs(v) / top));
    };
    opacity = 0.6;
  } else if (kind !== 'heatmap') {
    colorOf = () => null; // an unknown kind: the features' own colours, with filter, time and label
  }
  const filter = filterOf(raw.filter);
  const time = raw.time && typeof raw.time === 'object' && typeof raw.time.property === 'string' ? raw.time : null;
  const label = typeof raw.label === 'string' && raw.label ? raw.label : null;
  const compiled = {
    raw: raw,
    kind: kind,
    heat: kind === 'heatmap',
    // a heat map of the layer's shown points drawn under them (core/layer_style.py's heat)
    under: kind !== 'heatmap' && raw.heat === true,
    label: label,
    time: time,
    // the window the style gives, in ms (either end may be open)
    window: time ? [timeMs(time.from), timeMs(time.to)] : null,
    colorOf: colorOf,
    radiusOf: radiusOf,
    opacity: opacity,
    // Whether `f` is shown under the time window `win` ([from, to] in ms, ends may be null).
    shows(f, win) {
      const p = propsAt(f, win);
      if (filter && !filter(p)) return false;
      // inside when any of its times is (mapsrv/core/layer_style.py's in_time); none: outside
      if (time && win) {
        return timesOf(f, time.property).some((t) => (win[0] === null || t >= win[0]) && (win[1] === null || t <= win[1]));
      }
      return true;
    },
  };
  return compiled;
}

// ---------------------------------------------------------------- the heat layer

// leaflet.heat's default gradient, as the map image's (mapsrv/image/styling.py)
const HEAT_STOPS = [[0.4, '#0000ff'], [0.6, '#00ffff'], [0.7, '#00ff00'], [0.8, '#ffff00'], [1, '#ff0000']];
export const HEAT_GRADIENT = HEAT_STOPS;

// 256 RGBA entries from transparent to the hottest colour.
function heatPalette() {
  const canvas = document.createElement('canvas');
  canvas.width = 256;
  canvas.height = 1;
  const ctx = canvas.getContext('2d');
  const gradient = ctx.createLinearGradient(0, 0, 256, 0);
  gradient.addColorStop(0, 'rgba(0,0,255,0)');
  for (const [at, color] of HEAT_STOPS) gradient.addColorStop(at, color);
  ctx.fillStyle = gradient;
  ctx.fillRect(0, 0, 256, 1);
  return ctx.getImageData(0, 0, 256, 1).data;
}

// A blurred disc of `radius`, the stamp each point leaves in the alpha channel.
function heatStamp(radius) {
  const blur = radius * 0.6;
  const r = radius + blur;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = Math.ceil(2 * r);
  const ctx = canvas.getContext('2d');
  const gradient = ctx.createRadialGradient(r, r, 0, r, r, r);
  gradient.addColorStop(0, 'rgba(0,0,0,1)');
  gradient.addColorStop(0.45, 'rgba(0,0,0,0.6)');
  gradient.addColorStop(1, 'rgba(0,0,0,0)');
  ctx.fillStyle = gradient;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  return { canvas: canvas, r: r };
}

// The points of one heatmap layer on a canvas of its own: each point stamps a blurred disc
// (weighted by its weight property over the largest), the sum is coloured by the palette.
// `source()` answers the points as [x, y, weight] when asked, x and y across the world in
// [0, 1) (points.js's mercator).
export const HeatLayer = L.Layer.extend({
  initialize(source, options) {
    this._source = source;
    this._radius = options && Number.isFinite(options.radius) && options.radius > 0 ? options.radius : 25;
    this._points = null;
    this._frame = 0;
  },

  setRadius(radius) {
    if (Number.isFinite(radius) && radius > 0 && radius !== this._radius) {
      this._radius = radius;
      this._stamp = null;
    }
    this.changed();
  },

  changed() {
    this._points = null;
    if (this._frame || !this._map) return;
    this._frame = requestAnimationFrame(() => { this._frame = 0; this.redraw(); });
  },

  onAdd(map) {
    this._canvas = L.DomUtil.create('canvas', 'mapsrv-heat leaflet-zoom-hide');
    this._canvas.style.pointerEvents = 'none';
    this._canvas.style.zIndex = '-1'; // under the shapes too, as map_image draws it
    this.getPane('overlayPane').appendChild(this._canvas);
    map.on('moveend resize viewreset', this.redraw, this);
    map.on('zoomstart', this._hide, this);
    this.redraw();
  },

  onRemove(map) {
    map.off('moveend resize viewreset', this.redraw, this);
    map.off('zoomstart', this._hide, this);
    this._canvas.remove();
    this._canvas = null;
  },

  _hide() { if (this._canvas) this._canvas.style.visibility = 'hidden'; },

  redraw() {
    const map = this._map;
    const canvas = this._canvas;
    if (!map || !canvas) return;
    if (!this._points) this._points = this._source(); // [mercator x, mercator y, weight]
    if (!this._stamp) this._stamp = heatStamp(this._radius);
    if (!this._palette) this._palette = heatPalette();
    const size = map.getSize();
    const topLeft = map.containerPointToLayerPoint([0, 0]).round();
    if (canvas.width !== size.x || canvas.height !== size.y) {
      canvas.width = size.x;
      canvas.height = size.y;
    }
    L.DomUtil.setPosition(canvas, topLeft);
    canvas.style.visibility = '';
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.clearRect(0, 0, size.x, size.y);
    const { canvas: stamp, r } = this._stamp;
    // Points are summed in cells of a third of the radius and each cell stamped once: a stamp
    // per point took seconds for 100,000.
    const points = this._points;
    let top = 0;
    for (const p of points) if (p[2] > top) top = p[2];
    if (!(top > 0)) return;
    const cell = Math.max(2, Math.round(this._radius / 3));
    const scale = 256 * Math.pow(2, map.getZoom());
    const origin = map.getPixelOrigin();
    const ox = origin.x + topLeft.x; // world pixel -> canvas pixel
    const oy = origin.y + topLeft.y;
    const cols = Math.ceil((size.x + 2 * r) / cell) + 1;
    const cells = new Map(); // cell -> [sum of w x, sum of w y, sum of w]
    for (const p of points) {
      const x = p[0] * scale - ox;
      const y = p[1] * scale - oy;
      if (x < -r || y < -r || x > size.x + r || y > size.y + r || !(p[2] > 0)) continue;
      const key = Math.floor((y + r) / cell) * cols + Math.floor((x + r) / cell);
      const c = cells.get(key);
      if (c) {
        c[0] += p[2] * x;
        c[1] += p[2] * y;
        c[2] += p[2];
      } else {
        cells.set(key, [p[2] * x, p[2] * y, p[2]]);
      }
    }
    for (const [sx, sy, w] of cells.values()) {
      ctx.globalAlpha = Math.max(0.04, Math.min(1, w / top)) * 0.3;
      ctx.drawImage(stamp, sx / w - r, sy / w - r);
    }
    ctx.globalAlpha = 1;
    const image = ctx.getImageData(0, 0, size.x, size.y);
    const data = image.data;
    const palette = this._palette;
    for (let i = 3; i < data.length; i += 4) {
      const a = data[i];
      if (!a) continue;
      const j = a * 4;
      data[i - 3] = palette[j];
      data[i - 2] = palette[j + 1];
      data[i - 1] = palette[j + 2];
      data[i] = palette[j + 3];
    }
    ctx.putImageData(image, 0, 0);
  },
});

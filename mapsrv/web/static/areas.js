/* mapsrv: a big map's polygons (render.js draws them on one canvas), as Leaflet's L.Polygon with
 * its vertices kept as flat Web Mercator arrays instead of an L.LatLng each, and thinned once per
 * zoom level before Leaflet clips and simplifies them as it does every polygon.
 *
 * Why: Natural Earth's 1:10m countries (250 features, 550,000 vertices) took 650-750 ms of one
 * task to build as L.Polygons, most of it an L.LatLng, then an L.Point or two per vertex, then
 * the garbage collector; and every zoom projected all 550,000 again, to draw a world a
 * thousand pixels wide. Here a zoom level projects only the vertices at least a quarter of a
 * pixel from the last one kept (Leaflet's own simplification then drops those within a pixel,
 * as before), and an L.LatLng list is made only if something asks for one (getLatLngs).
 * A ring crossing the 180th meridian is drawn continuous (continuous), on every map.
 */

import { mercatorRing } from './inside.js';

// At a zoom level, drop a vertex closer than this (px) to the last one kept: well under
// Leaflet's own tolerance (smoothFactor, 1 px), so the outline drawn moves by under a pixel.
const THIN_PX = 0.25;

// A ring that crosses the 180th meridian as data often has it (Natural Earth's 1:50m Russia and
// Fiji: from 179.9 to -180 and back) drawn as one continuous outline, its longitudes past the
// crossing shifted by 360 degrees: drawn as they are, its edges cross the whole world (horizontal
// stripes). A ring around a pole (Antarctica's, whose longitudes cover every meridian) is kept.
function continuousRing(ring) {
  let shift = 0;
  let out = null;
  for (let i = 1; i < ring.length; i += 1) {
    const step = ring[i][1] + shift - (out ? out[i - 1][1] : ring[i - 1][1]);
    if (step > 180 || step < -180) {
      shift -= 360 * Math.round(step / 360);
      if (!out) out = ring.slice(0, i);
    }
    if (out) out.push(shift ? [ring[i][0], ring[i][1] + shift] : ring[i]);
  }
  // around a pole: its way back to the first point would cross the meridian once more
  return out && Math.abs(out[out.length - 1][1] - ring[0][1]) <= 180 ? out : ring;
}

// A polygon's coords (a ring, rings, or parts of rings) with each ring continuousRing's: the
// very arrays when no ring crosses the 180th meridian.
export function continuous(latlngs) {
  if (!Array.isArray(latlngs) || !latlngs.length) return latlngs;
  if (Array.isArray(latlngs[0]) && typeof latlngs[0][0] === 'number') return continuousRing(latlngs);
  let changed = false;
  const out = latlngs.map((x) => {
    const y = continuous(x);
    if (y !== x) changed = true;
    return y;
  });
  return changed ? out : latlngs;
}

// Every ring of a polygon's latlngs (a ring, rings, or parts of rings, as L.Polygon takes them),
// as [lat, lon] arrays, in Leaflet's order.
function ringsOf(latlngs, out) {
  if (!latlngs.length) return out;
  const first = latlngs[0];
  if (first instanceof L.LatLng || (Array.isArray(first) && typeof first[0] === 'number')) {
    out.push(Array.isArray(first) ? latlngs : latlngs.map((p) => [p.lat, p.lng]));
  } else {
    for (const x of latlngs) ringsOf(x, out);
  }
  return out;
}

// A flat ring without the points closer than `tolerance` to the last one kept; its last point
// is kept too (Leaflet's simplify keeps both ends).
function thinned(r, tolerance) {
  const n = r.length;
  if (n <= 8) return r;
  const out = new Float64Array(n);
  out[0] = r[0];
  out[1] = r[1];
  let k = 2;
  const t2 = tolerance * tolerance;
  for (let i = 2; i < n - 2; i += 2) {
    const dx = r[i] - out[k - 2];
    const dy = r[i + 1] - out[k - 1];
    if (dx * dx + dy * dy >= t2) {
      out[k] = r[i];
      out[k + 1] = r[i + 1];
      k += 2;
    }
  }
  out[k] = r[n - 2];
  out[k + 1] = r[n - 1];
  return out.subarray(0, k + 2);
}

export const FlatPolygon = L.Polygon.extend({
  _setLatLngs: function (latlngs) {
    latlngs = continuous(latlngs);
    const rings = ringsOf(latlngs, []);
    this._raw = latlngs;
    this._lazyLatLngs = null;
    this._flat = rings.map(mercatorRing);
    this._thin = new Map(); // zoom -> the rings thinned for it
    let [south, west, north, east] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const ring of rings) {
      for (const p of ring) {
        if (p[0] < south) south = p[0];
        if (p[0] > north) north = p[0];
        if (p[1] < west) west = p[1];
        if (p[1] > east) east = p[1];
      }
    }
    this._bounds = south <= north ? L.latLngBounds([south, west], [north, east]) : L.latLngBounds([]);
  },

  // Leaflet's own nested L.LatLng lists, made the first time anything reads them.
  getLatLngs: function () { return this._latlngs; },
  isEmpty: function () { return !this._flat.length || !this._flat[0].length; },

  _project: function () {
    const map = this._map;
    if (map.options.crs !== L.CRS.EPSG3857) {
      L.Polygon.prototype._project.call(this);
      return;
    }
    const zoom = map.getZoom();
    const scale = map.options.crs.scale(zoom) / 256; // world px at zoom 0 -> at this zoom
    let rings = this._thin.get(zoom);
    if (!rings) {
      rings = this._flat.map((r) => thinned(r, THIN_PX / scale));
      this._thin.set(zoom, rings);
    }
    const origin = map.getPixelOrigin();
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    this._rings = rings.map((r) => {
      const ring = new Array(r.length / 2);
      for (let i = 0; i < r.length; i += 2) {
        // rounded as Leaflet's latLngToLayerPoint rounds
        const x = Math.round(r[i] * scale) - origin.x;
        const y = Math.round(r[i + 1] * scale) - origin.y;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        ring[i / 2] = new L.Point(x, y);
      }
      return ring;
    });
    if (this._bounds.isValid() && x0 <= x1) {
      this._rawPxBounds = L.bounds([x0, y0], [x1, y1]);
      this._updateBounds();
    }
  },
});

Object.defineProperty(FlatPolygon.prototype, '_latlngs', {
  get: function () {
    if (!this._lazyLatLngs) {
      const bounds = this._bounds;
      this._bounds = L.latLngBounds([]); // extended by the conversion, as Leaflet does
      const latlngs = L.Polygon.prototype._convertLatLngs.call(this, this._raw);
      this._lazyLatLngs = latlngs[0] instanceof L.LatLng ? [latlngs] : latlngs;
      this._bounds = bounds;
    }
    return this._lazyLatLngs;
  },
  set: function (value) { this._lazyLatLngs = value; },
});

// Leaflet's canvas renderer, whose drawing can be held: while a snapshot is drawn in slices
// (render.js) each slice would otherwise draw the whole canvas again in the frame after it.
export const HeldCanvas = L.Canvas.extend({
  hold: function (on) {
    this._held = on;
    if (!on && this._waiting) {
      this._waiting = false;
      if (this._map) this._redrawRequest = this._redrawRequest || L.Util.requestAnimFrame(this._redraw, this);
    }
  },

  _redraw: function () {
    if (!this._held) {
      L.Canvas.prototype._redraw.call(this);
      return;
    }
    this._redrawRequest = null; // what it would have drawn stays in _redrawBounds until then
    this._waiting = true;
  },
});

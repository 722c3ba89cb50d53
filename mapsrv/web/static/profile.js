/* mapsrv live map page: a line's elevation profile under the map.
 *
 * A line with heights (a route's or a snapped track's `elevations` property from the router, a GPX
 * track's own <ele>) shows its profile while its popup is open: height against distance along the
 * line, drawn as SVG (its numbers are the map's data, never markup). Hovering the profile puts a
 * marker on the map at that place on the line, and says the distance and height there.
 */

import { page } from './map.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 600;
const HEIGHT = 120;
const PAD = 6;

// Metres along a line of Leaflet LatLngs, point by point; a line of several parts (a GPX track's
// segments) as one, without the gaps between them (`starts`: where each part after the first begins).
function distances(points, starts) {
  const out = [0];
  for (let i = 1; i < points.length; i++) {
    out.push(out[i - 1] + (starts.has(i) ? 0 : points[i - 1].distanceTo(points[i])));
  }
  return out;
}

function partStarts(f) {
  const starts = new Set();
  if (f.type !== 'multipolyline') return starts;
  let at = 0;
  for (const line of f.coords) {
    if (at) starts.add(at);
    at += line.length;
  }
  return starts;
}

function svgNode(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

// The feature whose Leaflet layer opened a popup, with its line and heights; null for any other.
function profileOf(layer) {
  for (const entry of page.features.values()) {
    if (entry.layer !== layer) continue;
    const f = entry.data;
    const line = f && (f.type === 'polyline' || f.type === 'multipolyline');
    const heights = line && f.properties && f.properties.elevations; // one per point, parts in order
    if (!Array.isArray(heights) || typeof layer.getLatLngs !== 'function') return null;
    const points = layer.getLatLngs().flat(Infinity);
    if (points.length !== heights.length || heights.filter((h) => typeof h === 'number').length < 2) return null;
    return { id: f.id, points: points, heights: heights, along: distances(points, partStarts(f)), climb: climbOf(heights) };
  }
  return null;
}

// Metres up and down along the heights (points without one skipped), as core/routes.py's climb.
function climbOf(heights) {
  const known = heights.filter((h) => typeof h === 'number');
  let up = 0;
  let down = 0;
  for (let i = 1; i < known.length; i++) {
    const rise = known[i] - known[i - 1];
    if (rise > 0) up += rise;
    else down -= rise;
  }
  return { up: up, down: down };
}

let panel = null;
let marker = null;

function close() {
  if (panel) panel.remove();
  if (marker) marker.remove();
  panel = marker = null;
}

function show(profile) {
  close();
  const known = profile.heights.filter((h) => typeof h === 'number');
  const low = Math.min(...known);
  const high = Math.max(...known);
  const total = profile.along[profile.along.length - 1] || 1;
  const x = (m) => PAD + (WIDTH - 2 * PAD) * (m / total);
  const y = (h) => HEIGHT - PAD - (HEIGHT - 2 * PAD) * (high > low ? (h - low) / (high - low) : 0.5);
  const path = [];
  profile.heights.forEach((h, i) => {
    if (typeof h === 'number') path.push(x(profile.along[i]).toFixed(1) + ',' + y(h).toFixed(1));
  });

  panel = document.createElement('div');
  panel.id = 'profile';
  panel.dataset.feature = profile.id;
  Object.assign(panel.style, {
    position: 'absolute', left: '50%', bottom: '24px', transform: 'translateX(-50%)', zIndex: 1000,
    width: 'min(' + WIDTH + 'px, 90vw)', background: 'rgba(255,255,255,0.95)', borderRadius: '6px',
    boxShadow: '0 1px 4px rgba(0,0,0,0.3)', padding: '4px 8px', font: '12px system-ui, sans-serif',
  });
  const caption = page.textNode('div', 'profile-caption',
    '\u2191 ' + Math.round(profile.climb.up) + ' m \u2193 ' + Math.round(profile.climb.down) + ' m, ' +
    Math.round(low) + '–' + Math.round(high) + ' m over ' + (total / 1000).toFixed(2) + ' km');
  const svg = svgNode('svg', { viewBox: '0 0 ' + WIDTH + ' ' + HEIGHT, width: '100%', role: 'img' });
  svg.setAttribute('aria-label', caption.textContent);
  svg.append(svgNode('polyline', { points: path.join(' '), fill: 'none', stroke: '#2563eb', 'stroke-width': 2 }));
  const cursor = svgNode('line', { y1: PAD, y2: HEIGHT - PAD, stroke: '#dc2626', visibility: 'hidden' });
  svg.append(cursor);
  const readout = page.textNode('div', 'profile-readout', '\u00a0');
  panel.append(caption, svg, readout);
  page.byId('map').append(panel);
  L.DomEvent.disableClickPropagation(panel);
  L.DomEvent.disableScrollPropagation(panel);

  svg.addEventListener('mousemove', (event) => {
    const box = svg.getBoundingClientRect();
    const metres = Math.max(0, Math.min(total, ((event.clientX - box.left) / box.width * WIDTH - PAD) / (WIDTH - 2 * PAD) * total));
    let i = 0;
    while (i + 1 < profile.along.length && profile.along[i + 1] <= metres) i++;
    const next = Math.min(i + 1, profile.points.length - 1);
    const span = profile.along[next] - profile.along[i];
    const t = span > 0 ? (metres - profile.along[i]) / span : 0;
    const a = profile.points[i];
    const b = profile.points[next];
    const at = L.latLng(a.lat + (b.lat - a.lat) * t, a.lng + (b.lng - a.lng) * t);
    if (!marker) marker = L.circleMarker(at, { radius: 6, color: '#dc2626', fillOpacity: 0.9, className: 'profile-marker' }).addTo(page.map);
    else marker.setLatLng(at);
    cursor.setAttribute('x1', x(metres).toFixed(1));
    cursor.setAttribute('x2', x(metres).toFixed(1));
    cursor.setAttribute('visibility', 'visible');
    const height = typeof profile.heights[i] === 'number' ? Math.round(profile.heights[i]) + ' m' : '—';
    readout.textContent = (metres / 1000).toFixed(2) + ' km: ' + height;
  });
}

// The line clear of the profile: moved up when its bottom is under the panel, never so far
// that its top leaves the map.
function clearOfPanel(layer) {
  if (!panel || !layer.getBounds) return;
  const bounds = layer.getBounds();
  const top = page.map.latLngToContainerPoint(bounds.getNorthWest()).y;
  const bottom = page.map.latLngToContainerPoint(bounds.getSouthEast()).y;
  const limit = page.map.getSize().y - panel.offsetHeight - 40;
  const shift = Math.min(bottom - limit, top - 16);
  if (shift > 0) page.map.panBy([0, shift], { animate: false });
}

page.map.on('popupopen', (event) => {
  const profile = profileOf(event.popup._source);
  if (profile) {
    show(profile);
    clearOfPanel(event.popup._source);
  } else close();
});
page.map.on('popupclose', (event) => {
  if (panel && event.popup._source && profileOf(event.popup._source)) close();
});

/* mapsrv: a feature's geometry on the page, the twin of mapsrv/core/geometry.py. The one module
 * that knows how each type nests its `coords` ([lat, lon] points; docs/protocol.md):
 *
 *   marker, circle   [lat, lon] (a circle also has `radius`)
 *   rectangle        [[s, w], [n, e]]
 *   polyline         [p, ...], at least 2
 *   polygon          [p, ...], at least 3, when it has no hole; [[outer...], [hole...], ...] when it has
 *   multipoint       [p, ...], at least 1
 *   multipolyline    [[p, ...], ...], each at least 2
 *   multipolygon     [[[p, ...] outer, holes...], ...], each ring at least 3
 *   collection       [{type, coords}, ...] of marker, polyline, polygon and the three multis
 *
 * Rings are unclosed. Everything else (render.js, edit.js, labels.js, profile.js) asks here.
 */

export const MEMBER_TYPES = ['marker', 'polyline', 'polygon', 'multipoint', 'multipolyline', 'multipolygon'];

const isPoint = (p) => Array.isArray(p) && p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]);
const isLine = (ps, min) => Array.isArray(ps) && ps.length >= min && ps.every(isPoint);
const isRings = (rs) => Array.isArray(rs) && rs.length >= 1 && rs.every((r) => isLine(r, 3));
const isList = (xs, each) => Array.isArray(xs) && xs.length >= 1 && xs.every(each);

// Whether a polygon's coords are in ring form (a list of rings) rather than one flat ring.
export const hasRings = (coords) => Array.isArray(coords[0]) && Array.isArray(coords[0][0]);

const CHECKS = {
  marker: (c) => isPoint(c),
  circle: (c, f) => isPoint(c) && Number.isFinite(f.radius) && f.radius >= 0,
  rectangle: (c) => isLine(c, 2) && c.length === 2,
  polyline: (c) => isLine(c, 2),
  polygon: (c) => Array.isArray(c) && (hasRings(c) ? isRings(c) : isLine(c, 3)),
  multipoint: (c) => isLine(c, 1),
  multipolyline: (c) => isList(c, (line) => isLine(line, 2)),
  multipolygon: (c) => isList(c, isRings),
  collection: (c) => isList(c, (m) => m && MEMBER_TYPES.includes(m.type) && CHECKS[m.type](m.coords, m)),
};

// Whether `f` is a feature of a known type whose coords nest as that type's do.
export function isValid(f) {
  return !!f && Object.hasOwn(CHECKS, f.type) && CHECKS[f.type](f.coords, f);
}

// Calls fn(point) for every position of a valid feature, in part -> ring -> member order (the
// order of per-point properties such as a track's times and heights).
export function eachPoint(f, fn) {
  const c = f.coords;
  switch (f.type) {
    case 'marker': case 'circle': fn(c); break;
    case 'polygon': if (hasRings(c)) { for (const r of c) r.forEach(fn); } else c.forEach(fn); break;
    case 'multipolyline': for (const line of c) line.forEach(fn); break;
    case 'multipolygon': for (const rings of c) for (const r of rings) r.forEach(fn); break;
    case 'collection': for (const m of c) eachPoint(m, fn); break;
    default: c.forEach(fn); // rectangle (its two corners), polyline, multipoint
  }
}

export function flatPoints(f) {
  const out = [];
  eachPoint(f, (p) => out.push(p));
  return out;
}

const rectangleRing = ([[s, w], [n, e]]) => [[s, w], [s, e], [n, e], [n, w]];

// A feature's parts, as core/geometry.py's parts(): [kind, coords] with kind 'point' (a point),
// 'line' (its points) or 'polygon' (its rings, outer first). Each part's coords are the very
// arrays of `f.coords` (a rectangle's ring excepted), so a part can be found by identity.
export function parts(f) {
  const c = f.coords;
  switch (f.type) {
    case 'marker': case 'circle': return [['point', c]];
    case 'rectangle': return [['polygon', [rectangleRing(c)]]];
    case 'polyline': return [['line', c]];
    case 'polygon': return [['polygon', hasRings(c) ? c : [c]]];
    case 'multipoint': return c.map((p) => ['point', p]);
    case 'multipolyline': return c.map((line) => ['line', line]);
    case 'multipolygon': return c.map((rings) => ['polygon', rings]);
    case 'collection': return c.flatMap(parts);
    default: return [];
  }
}

const RAD = Math.PI / 180;

function meanLat(points) {
  let sum = 0;
  for (const p of points) sum += p[0];
  return sum / points.length;
}

// A ring's area in square degrees, its longitudes scaled by the cosine of its mean latitude.
export function ringArea(ring) {
  const k = Math.cos(meanLat(ring) * RAD);
  let twice = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
    twice += (ring[j][1] * k) * ring[i][0] - (ring[i][1] * k) * ring[j][0];
  }
  return Math.abs(twice) / 2;
}

// A line's length in degrees, its longitudes scaled by the cosine of its mean latitude.
export function lineLength(line) {
  const k = Math.cos(meanLat(line) * RAD);
  let length = 0;
  for (let i = 1; i < line.length; i += 1) {
    length += Math.hypot((line[i][1] - line[i - 1][1]) * k, line[i][0] - line[i - 1][0]);
  }
  return length;
}

// Which of `all` (parts()) a feature's label goes on, as core/geometry.py's largest_part: the
// polygon whose outer ring is the largest, else the longest line, else the first point.
export function largestIndex(all) {
  if (all.length < 2) return 0;
  let best = -1;
  let most = -1;
  all.forEach(([kind, c], i) => {
    if (kind !== 'polygon') return;
    const area = ringArea(c[0]);
    if (area > most) { best = i; most = area; }
  });
  if (best >= 0) return best;
  all.forEach(([kind, c], i) => {
    if (kind !== 'line') return;
    const length = lineLength(c);
    if (length > most) { best = i; most = length; }
  });
  return Math.max(best, 0);
}

export function largestPart(f) {
  const all = parts(f);
  return all.length ? all[largestIndex(all)] : null;
}

// How many parts and holes a feature has (the editor's title says so).
export function partCount(f) {
  const all = parts(f);
  let holes = 0;
  for (const [kind, c] of all) if (kind === 'polygon') holes += c.length - 1;
  return { parts: all.length, holes: holes };
}

// Every vertex a person may drag, as [path, point]: the path of indexes into `f.coords` that
// leads to it (a collection's first index is its member's, the rest go into that member's
// coords). A marker's and a circle's path is [].
export function vertexPaths(f) {
  const c = f.coords;
  const down = (list, depth, prefix, out) => {
    list.forEach((x, i) => {
      if (depth === 0) out.push([prefix.concat(i), x]);
      else down(x, depth - 1, prefix.concat(i), out);
    });
    return out;
  };
  switch (f.type) {
    case 'marker': case 'circle': return [[[], c]];
    case 'polygon': return down(c, hasRings(c) ? 1 : 0, [], []);
    case 'multipolyline': return down(c, 1, [], []);
    case 'multipolygon': return down(c, 2, [], []);
    case 'collection':
      return c.flatMap((m, i) => vertexPaths(m).map(([path, p]) => [[i].concat(path), p]));
    default: return down(c, 0, [], []); // rectangle, polyline, multipoint
  }
}

const round = (x) => Math.round(x * 1e6) / 1e6;

// `f`'s coords with the vertex at `path` (vertexPaths) moved to `latlng`: only the arrays on the
// path are copied, the rest shared. A rectangle stays south-west, north-east.
export function movedCoords(f, path, latlng) {
  const p = [round(latlng.lat), round(latlng.lng)];
  if (!path.length) return p;
  if (f.type === 'collection') {
    const members = f.coords.slice();
    const m = members[path[0]];
    members[path[0]] = Object.assign({}, m, { coords: movedCoords(m, path.slice(1), latlng) });
    return members;
  }
  const copy = (list, depth) => {
    const out = list.slice();
    out[path[depth]] = depth === path.length - 1 ? p : copy(list[path[depth]], depth + 1);
    return out;
  };
  const coords = copy(f.coords, 0);
  if (f.type !== 'rectangle') return coords;
  const [a, b] = coords;
  return [[Math.min(a[0], b[0]), Math.min(a[1], b[1])], [Math.max(a[0], b[0]), Math.max(a[1], b[1])]];
}

// `f`'s coords with every part, ring and hole moved by the same [dLat, dLon], less if that would
// take a point off the map (the shape is kept whole rather than pressed against the edge).
export function shiftedCoords(f, dLat, dLon) {
  let [south, west, north, east] = [90, 180, -90, -180];
  eachPoint(f, (p) => {
    south = Math.min(south, p[0]); north = Math.max(north, p[0]);
    west = Math.min(west, p[1]); east = Math.max(east, p[1]);
  });
  const dy = Math.max(-90 - south, Math.min(90 - north, dLat));
  const dx = Math.max(-180 - west, Math.min(180 - east, dLon));
  const move = (p) => [round(p[0] + dy), round(p[1] + dx)];
  const deep = (x) => (isPoint(x) ? move(x) : x.map(deep));
  if (f.type === 'collection') return f.coords.map((m) => Object.assign({}, m, { coords: deep(m.coords) }));
  return deep(f.coords);
}

/* mapsrv: where an area's label goes, the twin of mapsrv/image/inside.py: the pole of
 * inaccessibility of its largest part (the point inside it farthest from its outline and holes,
 * as Shapely's polylabel finds it: never in a hole, out of a bay or on an island), and how much
 * room a label box has around it. Web Mercator world pixels at zoom 0, as drawn: a point there
 * is inside at every zoom, and a box w x h px at zoom z is w / 2^z x h / 2^z of them.
 *
 * The search (Mapbox's polylabel idea, as Shapely has it): square cells over the ring's box,
 * best first by the most any point of a cell could be from the outline, halved until no cell
 * can beat the best found by more than `precision`.
 */

const TILE = 256;
const MAX_LAT = 85.0511287798;
const RAD = Math.PI / 180;

// A ring of [lat, lon] points as [x0, y0, x1, y1, ...] world pixels at zoom 0.
export function mercatorRing(ring) {
  const out = new Float64Array(ring.length * 2);
  for (let i = 0; i < ring.length; i += 1) {
    const lat = Math.max(-MAX_LAT, Math.min(MAX_LAT, ring[i][0]));
    const s = Math.sin(lat * RAD);
    out[2 * i] = (ring[i][1] + 180) / 360 * TILE;
    out[2 * i + 1] = (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE;
  }
  return out;
}

// A flat ring's area (shoelace, unsigned).
export function flatArea(r) {
  let twice = 0;
  for (let i = 0, j = r.length - 2; i < r.length; j = i, i += 2) twice += r[j] * r[i + 1] - r[i] * r[j + 1];
  return Math.abs(twice) / 2;
}

const CHUNK = 16; // segments under one box: a box far from a point spares measuring its segments

// A flat ring's segments in chunks of CHUNK: each chunk's box [minx, miny, maxx, maxy].
function boxed(r) {
  const n = r.length / 2; // segments: from point i - 1 (the last, for i = 0) to point i
  const boxes = new Float64Array(Math.ceil(n / CHUNK) * 4);
  for (let c = 0; c * CHUNK < n; c += 1) {
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let k = c * CHUNK - 1; k < Math.min(n, (c + 1) * CHUNK); k += 1) {
      const i = ((k + n) % n) * 2;
      if (r[i] < x0) x0 = r[i];
      if (r[i] > x1) x1 = r[i];
      if (r[i + 1] < y0) y0 = r[i + 1];
      if (r[i + 1] > y1) y1 = r[i + 1];
    }
    boxes.set([x0, y0, x1, y1], c * 4);
  }
  return { r: r, boxes: boxes };
}

// The signed distance from (x, y) to the rings' outline: positive inside (even-odd over every
// ring: a hole is outside), negative outside. A chunk whose box is farther than the nearest
// segment yet, and which no ray to the right of the point crosses, is passed over.
function signedDistance(x, y, shapes) {
  let inside = false;
  let best = Infinity;
  for (const { r, boxes } of shapes) {
    const n = r.length / 2;
    for (let c = 0; c < boxes.length; c += 4) {
      const bx0 = boxes[c];
      const by0 = boxes[c + 1];
      const bx1 = boxes[c + 2];
      const by1 = boxes[c + 3];
      const crosses = y >= by0 && y <= by1 && x <= bx1;
      const ox = x < bx0 ? bx0 - x : x > bx1 ? x - bx1 : 0;
      const oy = y < by0 ? by0 - y : y > by1 ? y - by1 : 0;
      if (!crosses && ox * ox + oy * oy >= best) continue;
      const first = (c / 4) * CHUNK;
      for (let k = first; k < Math.min(n, first + CHUNK); k += 1) {
        const i = k * 2;
        const j = k === 0 ? r.length - 2 : i - 2;
        const ax = r[j];
        const ay = r[j + 1];
        const bx = r[i];
        const by = r[i + 1];
        if ((by > y) !== (ay > y) && x < (ax - bx) * (y - by) / (ay - by) + bx) inside = !inside;
        let dx = ax - bx;
        let dy = ay - by;
        let px = bx;
        let py = by;
        if (dx !== 0 || dy !== 0) {
          const t = ((x - bx) * dx + (y - by) * dy) / (dx * dx + dy * dy);
          if (t > 1) { px = ax; py = ay; } else if (t > 0) { px = bx + dx * t; py = by + dy * t; }
        }
        dx = x - px;
        dy = y - py;
        const d = dx * dx + dy * dy;
        if (d < best) best = d;
      }
    }
  }
  return (inside ? 1 : -1) * Math.sqrt(best);
}

// A cell: its centre, half its side, its distance and the most any point of it could have.
function cell(x, y, h, shapes) {
  const d = signedDistance(x, y, shapes);
  return { x: x, y: y, h: h, d: d, max: d + h * Math.SQRT2 };
}

// A max-heap of cells by `max`.
function push(heap, c) {
  heap.push(c);
  let i = heap.length - 1;
  while (i > 0) {
    const up = (i - 1) >> 1;
    if (heap[up].max >= c.max) break;
    heap[i] = heap[up];
    i = up;
  }
  heap[i] = c;
}

function pop(heap) {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const k = l + 1 < heap.length && heap[l + 1].max > heap[l].max ? l + 1 : l;
      if (heap[k].max <= last.max) break;
      heap[i] = heap[k];
      i = k;
    }
    heap[i] = last;
  }
  return top;
}

// [lat, lon] of a world pixel at zoom 0.
export function latlngOf(x, y) {
  const lat = (2 * Math.atan(Math.exp((0.5 - y / TILE) * 2 * Math.PI)) - Math.PI / 2) / RAD;
  return [lat, x / TILE * 360 - 180];
}

// A flat ring's box: [x0, y0, x1, y1].
export function boxOf(r) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < r.length; i += 2) {
    if (r[i] < x0) x0 = r[i];
    if (r[i] > x1) x1 = r[i];
    if (r[i + 1] < y0) y0 = r[i + 1];
    if (r[i + 1] > y1) y1 = r[i + 1];
  }
  return [x0, y0, x1, y1];
}

// The pole of inaccessibility of `rings` (flat, outer first): [x, y, distance to the outline],
// found to `precision` (by default 1/1000 of the ring's larger side, as the image asks Shapely).
export function poleOf(rings, precision) {
  const outer = rings[0];
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < outer.length; i += 2) {
    if (outer[i] < x0) x0 = outer[i];
    if (outer[i] > x1) x1 = outer[i];
    if (outer[i + 1] < y0) y0 = outer[i + 1];
    if (outer[i + 1] > y1) y1 = outer[i + 1];
  }
  const size = Math.min(x1 - x0, y1 - y0);
  if (precision === undefined) precision = Math.max(x1 - x0, y1 - y0) / 1000;
  if (!(size > 0)) return [(x0 + x1) / 2, (y0 + y1) / 2, 0];
  const shapes = rings.map((r) => boxed(thinned(r, precision)));
  const heap = [];
  const h = size / 2;
  for (let x = x0; x < x1; x += size) {
    for (let y = y0; y < y1; y += size) push(heap, cell(x + h, y + h, h, shapes));
  }
  // the first guesses: the ring's centroid and its box's middle
  let best = centroidCell(outer, shapes);
  const middle = cell((x0 + x1) / 2, (y0 + y1) / 2, 0, shapes);
  if (middle.d > best.d) best = middle;
  while (heap.length) {
    const c = pop(heap);
    if (c.d > best.d) best = c;
    if (c.max - best.d <= precision) continue;
    const q = c.h / 2;
    push(heap, cell(c.x - q, c.y - q, q, shapes));
    push(heap, cell(c.x + q, c.y - q, q, shapes));
    push(heap, cell(c.x - q, c.y + q, q, shapes));
    push(heap, cell(c.x + q, c.y + q, q, shapes));
  }
  return [best.x, best.y, Math.max(0, best.d)];
}

// A flat ring without the points closer than `tolerance` to the last one kept: it moves the
// outline by less than the precision asked, and a detailed coast has many (1:50m countries:
// 64,000 points; the search measures every cell against all of them).
function thinned(r, tolerance) {
  const out = [r[0], r[1]];
  const t2 = tolerance * tolerance;
  for (let i = 2; i < r.length; i += 2) {
    const dx = r[i] - out[out.length - 2];
    const dy = r[i + 1] - out[out.length - 1];
    if (dx * dx + dy * dy >= t2) out.push(r[i], r[i + 1]);
  }
  return out.length >= 6 ? out : r;
}

function centroidCell(r, shapes) {
  let twice = 0;
  let cx = 0;
  let cy = 0;
  const [ox, oy] = [r[0], r[1]]; // relative to a vertex: no precision lost
  for (let i = 0, j = r.length - 2; i < r.length; j = i, i += 2) {
    const ax = r[j] - ox;
    const ay = r[j + 1] - oy;
    const bx = r[i] - ox;
    const by = r[i + 1] - oy;
    const f = ax * by - bx * ay;
    cx += (ax + bx) * f;
    cy += (ay + by) * f;
    twice += f;
  }
  if (twice === 0) return cell(r[0], r[1], 0, shapes);
  return cell(ox + cx / (3 * twice), oy + cy / (3 * twice), 0, shapes);
}

// How much room a label box has at (x, y) inside `rings`: the largest s for which the box of
// half-width halfW * s and half-height halfH * s centred there crosses no ring. A box halfW x
// halfH px at zoom z fits when 2^-z <= s. (The least, over every edge, of the edge's distance
// from the point in the box's own metric, max(|dx| / halfW, |dy| / halfH).)
export function roomAt(rings, x, y, halfW, halfH) {
  let best = Infinity;
  for (const r of rings) {
    for (let i = 0, j = r.length - 2; i < r.length; j = i, i += 2) {
      const d = boxDistance((r[j] - x) / halfW, (r[j + 1] - y) / halfH, (r[i] - x) / halfW, (r[i + 1] - y) / halfH);
      if (d < best) best = d;
    }
  }
  return best;
}

// The least max(|x|, |y|) along the segment from (ax, ay) to (bx, by): at an end, where x or y
// is 0, or where |x| = |y|.
function boxDistance(ax, ay, bx, by) {
  let best = Math.min(Math.max(Math.abs(ax), Math.abs(ay)), Math.max(Math.abs(bx), Math.abs(by)));
  const dx = bx - ax;
  const dy = by - ay;
  const at = (t) => {
    if (t > 0 && t < 1) {
      const m = Math.max(Math.abs(ax + dx * t), Math.abs(ay + dy * t));
      if (m < best) best = m;
    }
  };
  if (dx !== 0) at(-ax / dx);
  if (dy !== 0) at(-ay / dy);
  if (dx !== dy) at((ay - ax) / (dx - dy));
  if (dx !== -dy) at(-(ax + ay) / (dx + dy));
  return best;
}

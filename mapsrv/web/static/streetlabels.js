/* mapsrv: the street basemap's labels (issue 79), placed per tile by the rule map_image's street
 * renderer (mapsrv/image/street_labels.py) follows too, so a page and an image of the same place read alike:
 *
 * - A label's box is the axis-aligned bounding box of its rotated text (the text's measured width
 *   by its font size, centred on its anchor), grown by the style's `labels.gap` px on every side.
 * - A label is drawn only when its whole box lies inside the tile's canvas (no label is cut at a
 *   tile's edge, and two tiles' labels never overlap), and skipped when its box meets (overlaps;
 *   boxes that only touch do not meet) one already placed on the tile.
 * - Order: places (localities, then neighbourhoods), road names (highway, major_road, minor_road,
 *   other, path; within a kind the longer line on the canvas first), then house numbers; each from
 *   its zoom in the style.
 * - A road's name is drawn once a tile: a line whose name is already drawn there is skipped. It is
 *   drawn along the line's longest straight run (consecutive segments, each cut to the canvas
 *   first, whose points stay within 2 px of the run's chord; past the max zoom, where one segment
 *   of the max-zoom tile crosses several tiles, each tile weighs its own piece) when that is at
 *   least the text's width + 8 px long, centred on the chord's middle and turned to its angle
 *   normalised into (-90, 90] degrees, so it never reads upside down; else not at all.
 * - Text in the style's font, with a halo of `halo_width` px (a stroke twice that wide, under the
 *   fill) in `halo`.
 */
import { TYPES } from './mvt.js';

export const ROAD_KINDS = ['highway', 'major_road', 'minor_road', 'other', 'path'];
const SEGMENT_SLACK = 8; // px a road's run must be longer than its name
const SAG = 2; // px a run's points may stray from its chord

// The angle of the segment a -> b in degrees, normalised into (-90, 90].
export function readingAngle(a, b) {
  let angle = (Math.atan2(b[1] - a[1], b[0] - a[0]) * 180) / Math.PI;
  if (angle > 90) angle -= 180;
  else if (angle <= -90) angle += 180;
  return angle;
}

// The labels of one tile: `pxOf(layer)(p)` turns a point of `layer` (tile units) into canvas (CSS)
// pixels, `size` is the canvas's side. Answers [{ text, box: [x0, y0, x1, y1] }] as drawn, boxes grown by the gap.
export function drawLabels(context, byName, style, zoom, pxOf, size) {
  const rules = style.labels;
  const placed = [];
  const fits = (box) => {
    if (box[0] < 0 || box[1] < 0 || box[2] > size || box[3] > size) return false;
    return !placed.some((o) => box[0] < o.box[2] && o.box[0] < box[2] && box[1] < o.box[3] && o.box[1] < box[3]);
  };
  // Draws `text` at `at` (canvas px) turned `angle` degrees when its box fits; says whether it did.
  const put = (raw, fontSize, color, at, angle) => {
    const text = raw.normalize('NFC'); // as map_image measures and draws it
    context.font = fontSize + 'px ' + rules.font;
    const width = context.measureText(text).width;
    const turn = (angle * Math.PI) / 180;
    const cos = Math.abs(Math.cos(turn)), sin = Math.abs(Math.sin(turn));
    const halfW = (width * cos + fontSize * sin) / 2 + rules.gap;
    const halfH = (width * sin + fontSize * cos) / 2 + rules.gap;
    const box = [at[0] - halfW, at[1] - halfH, at[0] + halfW, at[1] + halfH];
    if (!fits(box)) return false;
    placed.push({ text: text, box: box });
    context.save();
    context.translate(at[0], at[1]);
    if (angle) context.rotate(turn);
    context.textAlign = 'center';
    context.textBaseline = 'middle';
    context.lineJoin = 'round';
    context.lineWidth = 2 * rules.halo_width;
    context.strokeStyle = rules.halo;
    context.strokeText(text, 0, 0);
    context.fillStyle = color;
    context.fillText(text, 0, 0);
    context.restore();
    return true;
  };
  const widthOf = (text, fontSize) => {
    context.font = fontSize + 'px ' + rules.font;
    return context.measureText(text).width;
  };

  const atPlace = pxOf(byName.places);
  places(byName.places, rules.place, zoom).forEach((f) => {
    put(String(f.properties.name), rules.place.size[f.properties.kind], rules.place.color, atPlace(f.parts[0][0]), 0);
  });
  const drawn = new Set();
  for (const road of roads(byName.roads, rules.road, zoom, pxOf(byName.roads), size)) {
    const name = String(road.feature.properties.name);
    if (drawn.has(name)) continue;
    const longest = road.longest;
    if (!longest || longest.length < widthOf(name.normalize('NFC'), rules.road.size) + SEGMENT_SLACK) continue;
    const [a, b] = longest.ends;
    const middle = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
    if (put(name, rules.road.size, rules.road.color, middle, readingAngle(a, b))) drawn.add(name);
  }
  if (zoom >= rules.address.from && byName.buildings) {
    const px = pxOf(byName.buildings);
    for (const f of byName.buildings.features) {
      const number = f.properties.addr_housenumber;
      if (f.type !== TYPES.POINT || f.properties.kind !== 'address' || number === undefined || !f.parts.length) continue;
      put(String(number), rules.address.size, rules.address.color, px(f.parts[0][0]), 0);
    }
  }
  return placed;
}

// The named places shown at `zoom`: localities, then neighbourhoods.
function places(layer, rule, zoom) {
  if (!layer) return [];
  const shown = (kind) => layer.features.filter((f) => f.type === TYPES.POINT && f.parts.length
    && f.properties.kind === kind && f.properties.name && zoom >= rule.from[kind]);
  return ['locality', 'neighbourhood'].filter((kind) => rule.from[kind] !== undefined).flatMap(shown);
}

// The part of the segment a -> b inside the square [0, size]², or null (Liang-Barsky).
export function clip(a, b, size) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  let t0 = 0, t1 = 1;
  for (const [p, q] of [[-dx, a[0]], [dx, size - a[0]], [-dy, a[1]], [dy, size - a[1]]]) {
    if (p === 0) {
      if (q < 0) return null;
    } else {
      const t = q / p;
      if (p < 0) t0 = Math.max(t0, t);
      else t1 = Math.min(t1, t);
    }
  }
  if (t0 > t1) return null;
  return [[a[0] + t0 * dx, a[1] + t0 * dy], [a[0] + t1 * dx, a[1] + t1 * dy]];
}

// Whether every point of `points` lies within SAG px of the chord from the first to the last.
function straight(points) {
  const [x0, y0] = points[0], [x1, y1] = points[points.length - 1];
  const length = Math.hypot(x1 - x0, y1 - y0);
  if (length === 0) return false;
  for (let i = 1; i < points.length - 1; i++) {
    const [x, y] = points[i];
    if (Math.abs((x1 - x0) * (y0 - y) - (x0 - x) * (y1 - y0)) / length > SAG) return false;
  }
  return true;
}

// A line's straight runs cut to the canvas, each {ends, length}: consecutive segments inside it
// join into one run while every point of it stays within SAG px of the run's chord (a gently
// curving street, drawn as many short segments, carries its name).
export function runs(parts, px, size) {
  const out = [];
  const end = (run) => {
    const a = run[0], b = run[run.length - 1];
    if (run.length >= 2 && (a[0] !== b[0] || a[1] !== b[1])) out.push({ ends: [a, b], length: Math.hypot(b[0] - a[0], b[1] - a[1]) });
    return [];
  };
  for (const part of parts) {
    let run = [];
    for (let i = 1; i < part.length; i++) {
      const a = px(part[i - 1]), b = px(part[i]);
      const cut = clip(a, b, size);
      if (!cut) { run = end(run); continue; }
      const [p, q] = cut;
      const last = run[run.length - 1];
      if (last && last[0] === p[0] && last[1] === p[1] && straight([...run, q])) {
        run.push(q);
      } else {
        end(run);
        run = [p, q];
      }
      if (q[0] !== b[0] || q[1] !== b[1]) run = end(run); // it leaves the canvas here
    }
    end(run);
  }
  return out;
}

// The named roads whose names show at `zoom`, in label order, each with its longest straight
// run (within the canvas) and the runs' length there.
function roads(layer, rule, zoom, px, size) {
  if (!layer) return [];
  const out = [];
  for (const f of layer.features) {
    const kind = ROAD_KINDS.indexOf(f.properties.kind);
    if (f.type !== TYPES.LINE || kind < 0 || !f.properties.name || !(zoom >= rule.from[f.properties.kind])) continue;
    let total = 0, longest = null;
    for (const run of runs(f.parts, px, size)) {
      total += run.length;
      if (!longest || run.length > longest.length) longest = run;
    }
    out.push({ feature: f, kind: kind, total: total, longest: longest });
  }
  return out.sort((p, q) => p.kind - q.kind || q.total - p.total);
}

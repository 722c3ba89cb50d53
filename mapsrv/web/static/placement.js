/* mapsrv: where a map's labels go, as a cartographer would have them: one per feature, none over
 * another, the larger or selected features first, the rest showing as one zooms in. The rules of
 * mapsrv/image/placement.py; labels.js measures the texts, finds what is on screen and draws.
 *
 * A label is a box HEIGHT px high. Who goes first: the selected feature, then the larger (its
 * size on screen at this zoom: an area's area, a line's length times LINE_BAND, a point's
 * symbol), then the larger value of the layer's style, then the most recently drawn. Each goes to
 * the first of its spots that is inside the view and overlaps nothing placed before it: an area's
 * label centred on its pole of inaccessibility (inside.js), a line's above the middle of its
 * longest segment (or below), a point's around its symbol (right, left, above, below, then the
 * four corners). An area's or a line's label at the view's edge slides inside it while it still
 * covers its place (a choropleth's name that must fit its area does not). A grid of CELL px cells finds what is near a box among the few placed nearby.
 */

export const HEIGHT = 20; // px: .mapsrv-placed in render.css
export const GAP = 3; // px between a symbol and its label
const CELL = 128; // px: the grid's cells
const LINE_BAND = 4; // px: how wide a line counts for

// A feature's size on screen at `zoom`, in px²: what puts a larger feature's label first.
export function weightAt(entry, zoom) {
  if (entry.kind === 'area') return entry.size * Math.pow(4, zoom); // size: area at zoom 0
  if (entry.kind === 'line') return entry.size * Math.pow(2, zoom) * LINE_BAND; // length at zoom 0
  return entry.size; // a point's symbol, the same at every zoom
}

// Who goes first (see above); `selected` is a feature id or null.
export function byPriority(candidates, zoom, selected) {
  for (const c of candidates) c.weight = weightAt(c, zoom);
  return candidates.sort((a, b) => (b.id === selected) - (a.id === selected)
    || b.weight - a.weight
    || (b.value === null ? -Infinity : b.value) - (a.value === null ? -Infinity : a.value)
    || b.seq - a.seq);
}

// The top-left corners to try, best first, for a label `w` px wide of an entry at (x, y).
export function spots(entry, x, y, w) {
  const h = HEIGHT;
  if (entry.kind === 'area') return [[x - w / 2, y - h / 2]];
  if (entry.kind === 'line') return [[x - w / 2, y - GAP - h], [x - w / 2, y + GAP]];
  const [sx0, sy0, sx1, sy1] = entry.symbol;
  const [left, top, right, bottom] = [x + sx0, y + sy0, x + sx1, y + sy1];
  const middle = (top + bottom) / 2 - h / 2;
  const centre = (left + right) / 2 - w / 2;
  return [
    [right + GAP, middle], [left - GAP - w, middle], [centre, top - GAP - h], [centre, bottom + GAP],
    [right, top - h], [right, bottom], [left - w, top - h], [left - w, bottom],
  ];
}

// Boxes [x0, y0, x1, y1] placed so far, found by the grid cells they cover.
export class Grid {
  constructor() { this.cells = new Map(); }

  static key(cx, cy) { return cx * 65536 + cy; }

  fits(box) {
    const cx1 = Math.floor(box[2] / CELL);
    const cy1 = Math.floor(box[3] / CELL);
    for (let cx = Math.floor(box[0] / CELL); cx <= cx1; cx += 1) {
      for (let cy = Math.floor(box[1] / CELL); cy <= cy1; cy += 1) {
        const cell = this.cells.get(Grid.key(cx, cy));
        if (!cell) continue;
        for (const b of cell) if (b[0] < box[2] && box[0] < b[2] && b[1] < box[3] && box[1] < b[3]) return false;
      }
    }
    return true;
  }

  insert(box) {
    const cx1 = Math.floor(box[2] / CELL);
    const cy1 = Math.floor(box[3] / CELL);
    for (let cx = Math.floor(box[0] / CELL); cx <= cx1; cx += 1) {
      for (let cy = Math.floor(box[1] / CELL); cy <= cy1; cy += 1) {
        const key = Grid.key(cx, cy);
        const cell = this.cells.get(key);
        if (cell) cell.push(box);
        else this.cells.set(key, [box]);
      }
    }
  }
}

// Places `ordered` candidates ({x, y, width, kind, symbol, ...}, by priority) inside `view`
// ([left, top, right, bottom]) around what `grid` already holds, at most `max` of them: sets each
// placed one's `box` and answers them in order.
export function placeAll(ordered, grid, view, max) {
  const [left, top, right, bottom] = view;
  const placed = [];
  for (const c of ordered) {
    if (placed.length >= max) break;
    for (const [bx, by] of spots(c, c.x, c.y, c.width)) {
      let x0 = Math.round(bx);
      let y0 = Math.round(by);
      if (c.kind !== 'point' && !c.fits) { // slid inside the view, as long as it stays on its place
        x0 = Math.max(left, Math.min(x0, right - c.width));
        y0 = Math.max(top, Math.min(y0, bottom - HEIGHT));
        if (x0 > c.x || x0 + c.width < c.x || y0 > c.y + GAP + HEIGHT || y0 + HEIGHT < c.y - GAP - HEIGHT) continue;
      }
      const box = [x0, y0, x0 + c.width, y0 + HEIGHT];
      if (box[0] < left || box[1] < top || box[2] > right || box[3] > bottom || !grid.fits(box)) continue;
      grid.insert(box);
      c.box = box;
      placed.push(c);
      break;
    }
  }
  return placed;
}

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
 * covers its place (a choropleth's name that must fit its area does not). A label keeps off the
 * symbols of labelled points while there are at most a thousand on screen (labels.js puts them in
 * the grid), unless every spot it has covers one of a point after it; a point whose symbol a
 * label covers gets none. A grid of CELL px cells finds what is near a box among the few placed
 * nearby.
 */

export const HEIGHT = 20; // px: .mapsrv-placed in render.css
export const GAP = 3; // px between a symbol and its label
const CELL = 128; // px: the grid's cells
const LINE_BAND = 4; // px: how wide a line counts for
const FEW = 16; // entries in or out at once put in their places one by one; more, lists merged

// A feature's size on screen at `zoom`, in px²: what puts a larger feature's label first.
export function weightAt(entry, zoom) {
  if (entry.kind === 'area') return entry.size * Math.pow(4, zoom); // size: area at zoom 0
  if (entry.kind === 'line') return entry.size * Math.pow(2, zoom) * LINE_BAND; // length at zoom 0
  return entry.size; // a point's symbol, the same at every zoom
}

const before = (a, b) => b.weight - a.weight
  || (b.value === null ? -Infinity : b.value) - (a.value === null ? -Infinity : a.value)
  || b.seq - a.seq;

// Who goes first (see above), `selected` (a feature id or null) before all.
export function byPriority(candidates, zoom, selected) {
  for (const c of candidates) c.weight = weightAt(c, zoom);
  return candidates.sort((a, b) => (b.id === selected) - (a.id === selected) || before(a, b));
}

// The same order, kept: each kind sorted once (their order among themselves is the same at
// every zoom, each kind's weight a multiple of its size) and merged at a zoom, which costs a pass
// rather than a sort (a sort of 10,000 labels was half of what a pan cost them). An entry that
// comes or goes (an edit of one feature) is put in or taken out at its place, in its kind's list
// and in the merged order: an edit on a map of 100,000 sorted them all again (a long task of
// 60-180 ms), then merged them again (10-15 ms, and as much again collecting the arrays). More
// than FEW at once (a batch) are sorted among themselves and merged into the lists in one pass.
export class Priority {
  constructor() {
    this.kinds = null;
    this.merged = null;
    this.zoom = null;
    this.selected = null;
    this.added = []; // entries in since the last order
    this.removed = new Set(); // entries out since then
  }

  // Forgets the order: a style changed sizes or values, or every entry went.
  reset() {
    this.kinds = null;
    this.merged = null;
    this.added = [];
    this.removed.clear();
  }

  // One entry in (its `size` and `value` set), or out.
  add(entry) { if (this.kinds) this.added.push(entry); }

  remove(entry) { if (this.kinds) this.removed.add(entry); }

  // Every entry of `entries` (an iterable) by priority at `zoom`, `selected` first.
  at(entries, zoom, selected) {
    if (!this.kinds) {
      this.kinds = { point: [], line: [], area: [] };
      for (const e of entries) this.kinds[e.kind].push(e);
      for (const list of Object.values(this.kinds)) byPriority(list, 0, null);
      this.merged = null;
      this.added = [];
      this.removed.clear();
    }
    const changes = this.added.length + this.removed.size;
    if (changes && changes <= FEW) this.patch();
    else if (changes) this.rebuild();
    if (!this.merged || this.zoom !== zoom || this.selected !== selected) {
      const lists = Object.values(this.kinds);
      for (const list of lists) for (const e of list) e.weight = weightAt(e, zoom);
      const merged = [];
      const at = lists.map(() => 0);
      for (;;) {
        let best = -1;
        for (let k = 0; k < lists.length; k += 1) {
          if (at[k] < lists[k].length && (best < 0 || before(lists[k][at[k]], lists[best][at[best]]) < 0)) best = k;
        }
        if (best < 0) break;
        merged.push(lists[best][at[best]]);
        at[best] += 1;
      }
      const first = merged.findIndex((e) => e.id === selected);
      if (first > 0) merged.unshift(merged.splice(first, 1)[0]);
      this.merged = merged;
      this.zoom = zoom;
      this.selected = selected;
    }
    return this.merged;
  }

  // A few in or out: each at its place in its kind's list (by zoom 0) and in the merged order
  // (by the zoom it was merged at, the selected feature's entry pinned first).
  patch() {
    const gone = this.removed;
    const came = this.added.filter((e) => !gone.has(e));
    const merged = this.merged;
    let pinned = merged && merged.length && merged[0].id === this.selected ? 1 : 0;
    for (const e of gone) {
      take(this.kinds[e.kind], e, 0, 0);
      if (!merged) continue;
      if (pinned && merged[0] === e) {
        merged.shift();
        pinned = 0;
      } else {
        take(merged, e, this.zoom, pinned);
      }
    }
    for (const e of came) {
      const list = this.kinds[e.kind];
      list.splice(search(list, e, 0, 0), 0, e);
      if (!merged) continue;
      e.weight = weightAt(e, this.zoom);
      if (e.id === this.selected) {
        merged.unshift(e);
        pinned = 1;
      } else {
        merged.splice(search(merged, e, this.zoom, pinned), 0, e);
      }
    }
    this.added = [];
    gone.clear();
  }

  // Many in or out: what went filtered out of each kind's list, what came sorted and merged in.
  rebuild() {
    const gone = this.removed;
    const came = this.added.filter((e) => !gone.has(e));
    for (const [kind, list] of Object.entries(this.kinds)) {
      const kept = gone.size ? list.filter((e) => !gone.has(e)) : list;
      const fresh = byPriority(came.filter((e) => e.kind === kind), 0, null);
      if (fresh.length) for (const e of kept) e.weight = weightAt(e, 0);
      this.kinds[kind] = fresh.length ? mergeSorted(kept, fresh) : kept;
    }
    this.added = [];
    gone.clear();
    this.merged = null;
  }
}

// `before` with each entry's weight at `zoom`, whatever its `weight` holds.
const order = (a, b, zoom) => weightAt(b, zoom) - weightAt(a, zoom)
  || (b.value === null ? -Infinity : b.value) - (a.value === null ? -Infinity : a.value)
  || b.seq - a.seq;

// The first index from `from` of `list` (in `order` at `zoom`) whose entry does not go before
// `entry`.
function search(list, entry, zoom, from) {
  let lo = from;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (order(list[mid], entry, zoom) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Takes `entry` out of `list`: at its place, or (its size or value changed since) where it is.
function take(list, entry, zoom, from) {
  for (let i = search(list, entry, zoom, from); i < list.length && order(list[i], entry, zoom) <= 0; i += 1) {
    if (list[i] === entry) {
      list.splice(i, 1);
      return;
    }
  }
  const at = list.indexOf(entry);
  if (at >= 0) list.splice(at, 1);
}

// Two lists each in priority order (weights set alike), as one.
function mergeSorted(a, b) {
  const out = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = before(b[j], a[i]) < 0 ? b[j++] : a[i++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}

// The top-left corners to try, best first, for a label `w` px wide of an entry at (x, y): written
// into `out` as x, y pairs (placing thousands, an array each was a third of the time); answers
// how many.
export function spotsInto(out, entry, x, y, w) {
  const h = HEIGHT;
  if (entry.kind === 'area') {
    out[0] = x - w / 2;
    out[1] = y - h / 2;
    return 1;
  }
  if (entry.kind === 'line') {
    out[0] = out[2] = x - w / 2;
    out[1] = y - GAP - h;
    out[3] = y + GAP;
    return 2;
  }
  const s = entry.symbol;
  const left = x + s[0];
  const top = y + s[1];
  const right = x + s[2];
  const bottom = y + s[3];
  const middle = (top + bottom) / 2 - h / 2;
  const centre = (left + right) / 2 - w / 2;
  out[0] = right + GAP; out[1] = middle; // right
  out[2] = left - GAP - w; out[3] = middle; // left
  out[4] = centre; out[5] = top - GAP - h; // above
  out[6] = centre; out[7] = bottom + GAP; // below
  out[8] = right; out[9] = top - h; // the corners
  out[10] = right; out[11] = bottom;
  out[12] = left - w; out[13] = top - h;
  out[14] = left - w; out[15] = bottom;
  return 8;
}

// The same, as a list of [x, y].
export function spots(entry, x, y, w) {
  const out = new Float64Array(16);
  const n = spotsInto(out, entry, x, y, w);
  const list = [];
  for (let i = 0; i < n; i += 1) list.push([out[2 * i], out[2 * i + 1]]);
  return list;
}

// Boxes [x0, y0, x1, y1] placed so far (labels, what floats over the map), and points' symbols
// [x0, y0, x1, y1, rank] (rank: its point's place in the order), found by the grid cells they
// cover.
export class Grid {
  constructor() { this.cells = new Map(); }

  static key(cx, cy) { return cx * 65536 + cy; }

  // Whether a label or a panel placed covers the point (x, y).
  covers(x, y) {
    const cell = this.cells.get(Grid.key(Math.floor(x / CELL), Math.floor(y / CELL)));
    if (cell) {
      for (const b of cell) if (b.length === 4 && b[0] <= x && x <= b[2] && b[1] <= y && y <= b[3]) return true;
    }
    return false;
  }

  // Whether `box` overlaps nothing placed but the symbols ranked `rank` or after.
  fits(box, rank = Infinity) {
    const cx1 = Math.floor(box[2] / CELL);
    const cy1 = Math.floor(box[3] / CELL);
    for (let cx = Math.floor(box[0] / CELL); cx <= cx1; cx += 1) {
      for (let cy = Math.floor(box[1] / CELL); cy <= cy1; cy += 1) {
        const cell = this.cells.get(Grid.key(cx, cy));
        if (!cell) continue;
        for (const b of cell) {
          if (b[0] < box[2] && box[0] < b[2] && b[1] < box[3] && box[1] < b[3] && !(b[4] >= rank)) return false;
        }
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
// placed one's `box` and answers them in order. When `guarded`, the grid holds the points'
// symbols (ranked by the order): a label takes its first spot that covers none, else its first
// that covers only those of points after it (which then get no label: a point whose symbol a
// label covers gets none, nor an area whose one spot is taken).
export function placeAll(ordered, grid, view, max, guarded) {
  const [left, top, right, bottom] = view;
  const placed = [];
  const tries = new Float64Array(16);
  for (let rank = 0; rank < ordered.length && placed.length < max; rank += 1) {
    const c = ordered[rank];
    if (c.kind !== 'line' && grid.covers(c.x, c.y)) continue;
    const n = spotsInto(tries, c, c.x, c.y, c.width);
    let box = null;
    for (let pass = guarded ? 0 : 1; pass < 2 && !box; pass += 1) {
      for (let i = 0; i < n && !box; i += 1) box = spotAt(c, tries[2 * i], tries[2 * i + 1], view, grid, pass ? rank : Infinity);
    }
    if (!box) continue;
    grid.insert(box);
    c.box = box;
    placed.push(c);
  }
  return placed;
}

// The box at (x, y) (slid inside the view if it is an area's or a line's that need not fit, as
// long as it stays on its place) when it is inside the view and fits the grid; else null.
function spotAt(c, x, y, view, grid, rank) {
  const [left, top, right, bottom] = view;
  let x0 = Math.round(x);
  let y0 = Math.round(y);
  if (c.kind !== 'point' && !c.fits) {
    x0 = Math.max(left, Math.min(x0, right - c.width));
    y0 = Math.max(top, Math.min(y0, bottom - HEIGHT));
    if (x0 > c.x || x0 + c.width < c.x || y0 > c.y + GAP + HEIGHT || y0 + HEIGHT < c.y - GAP - HEIGHT) return null;
  }
  const box = [x0, y0, x0 + c.width, y0 + HEIGHT];
  if (box[0] < left || box[1] < top || box[2] > right || box[3] > bottom || !grid.fits(box, rank)) return null;
  return box;
}

/**
 * A minimal Mapbox Vector Tile (2.1) decoder, written from the spec
 * (github.com/mapbox/vector-tile-spec, 2.1): the protobuf wire format (varints and
 * length-delimited fields), a tile's layers, each layer's features and their geometry: the
 * commands MoveTo, LineTo and ClosePath with zigzag-encoded deltas, and its properties (the
 * layer's keys and values tables, each feature's tags pairs of indexes into them): archives.js
 * draws each source layer in one colour, streets.js styles a feature by its `kind`.
 */

const POINT = 1, LINE = 2, POLYGON = 3;
export const TYPES = { POINT: POINT, LINE: LINE, POLYGON: POLYGON };

function reader(bytes, start, end) {
  let at = start;
  const r = {
    get done() { return at >= end; },
    varint() {
      let value = 0, scale = 1, byte;
      do {
        if (at >= end) throw new Error('mvt: a varint runs past its message');
        byte = bytes[at++];
        value += (byte & 0x7f) * scale;
        scale *= 128;
      } while (byte & 0x80);
      return value;
    },
    // the next field: its number, and its value (a number, or [start, end] of its bytes)
    field() {
      const key = r.varint();
      const wire = key & 7;
      if (wire === 0) return [Math.floor(key / 8), r.varint()];
      if (wire === 2) {
        const length = r.varint();
        const from = at;
        at += length;
        if (at > end) throw new Error('mvt: a field runs past its message');
        return [Math.floor(key / 8), [from, at]];
      }
      if (wire === 1 || wire === 5) { // fixed 64 or 32 bits: [start, end] of them
        const from = at;
        at += wire === 1 ? 8 : 4;
        if (at > end) throw new Error('mvt: a field runs past its message');
        return [Math.floor(key / 8), [from, at]];
      }
      throw new Error('mvt: wire type ' + wire + ' is not in the spec');
    },
  };
  return r;
}

const zigzag = (n) => (n % 2 === 1 ? -(n + 1) / 2 : n / 2);

// A feature's geometry as parts (rings, lines or points), each a list of [x, y] in tile units.
function geometry(bytes, span) {
  const r = reader(bytes, span[0], span[1]);
  const parts = [];
  let x = 0, y = 0, part = null;
  while (!r.done) {
    const command = r.varint();
    const id = command & 7;
    const count = Math.floor(command / 8);
    if (id === 7) { // ClosePath: the ring ends where it began
      if (part && part.length) part.push(part[0]);
      continue;
    }
    if (id !== 1 && id !== 2) throw new Error('mvt: command ' + id + ' is not in the spec');
    for (let i = 0; i < count; i++) {
      x += zigzag(r.varint());
      y += zigzag(r.varint());
      if (id === 1 || !part) { part = []; parts.push(part); }
      part.push([x, y]);
    }
  }
  return parts;
}

const text = (bytes, span) => new TextDecoder().decode(bytes.subarray(span[0], span[1]));
const TWO_63 = 2 ** 63, TWO_64 = 2 ** 64;

// One entry of a layer's values table: a string, a number or a boolean (the spec's Value message:
// string 1, float 2, double 3, int64 4, uint64 5, sint64 6, bool 7).
function value(bytes, span) {
  const r = reader(bytes, span[0], span[1]);
  let out = null;
  while (!r.done) {
    const [number, v] = r.field();
    const view = Array.isArray(v) ? new DataView(bytes.buffer, bytes.byteOffset + v[0], v[1] - v[0]) : null;
    if (number === 1) out = text(bytes, v);
    else if (number === 2) out = view.getFloat32(0, true);
    else if (number === 3) out = view.getFloat64(0, true);
    else if (number === 4) out = v >= TWO_63 ? v - TWO_64 : v; // a negative int64: ten bytes, two's complement
    else if (number === 5) out = v;
    else if (number === 6) out = zigzag(v);
    else if (number === 7) out = v !== 0;
  }
  return out;
}

// Packed varints (a feature's tags).
function packed(bytes, span) {
  const r = reader(bytes, span[0], span[1]);
  const out = [];
  while (!r.done) out.push(r.varint());
  return out;
}

function feature(bytes, span, keys, values) {
  const r = reader(bytes, span[0], span[1]);
  const out = { type: 0, parts: [], properties: {} };
  let tags = [];
  while (!r.done) {
    const [number, v] = r.field();
    if (number === 2) tags = packed(bytes, v);
    else if (number === 3) out.type = v;
    else if (number === 4) out.parts = geometry(bytes, v);
  }
  for (let i = 0; i + 1 < tags.length; i += 2) {
    const key = keys[tags[i]];
    if (key === undefined || tags[i + 1] >= values.length) throw new Error('mvt: a tag ' + tags[i] + ' is not in its layer');
    out.properties[key] = values[tags[i + 1]];
  }
  return out;
}

function layer(bytes, span) {
  const r = reader(bytes, span[0], span[1]);
  const out = { name: '', extent: 4096, features: [] };
  const features = [], keys = [], values = [];
  while (!r.done) { // the tables may come after the features: those are read once the tables are
    const [number, v] = r.field();
    if (number === 1) out.name = text(bytes, v);
    else if (number === 2) features.push(v);
    else if (number === 3) keys.push(text(bytes, v));
    else if (number === 4) values.push(value(bytes, v));
    else if (number === 5) out.extent = v || 4096;
  }
  out.features = features.map((f) => feature(bytes, f, keys, values));
  return out;
}

// The tile's layers: [{ name, extent, features: [{ type, parts, properties }] }].
export function decodeTile(bytes) {
  const r = reader(bytes, 0, bytes.length);
  const layers = [];
  while (!r.done) {
    const [number, value] = r.field();
    if (number === 3) layers.push(layer(bytes, value));
  }
  return layers;
}

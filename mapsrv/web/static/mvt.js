/**
 * A minimal Mapbox Vector Tile (2.1) decoder, written from the spec
 * (github.com/mapbox/vector-tile-spec, 2.1): the protobuf wire format (varints and
 * length-delimited fields), a tile's layers, each layer's features and their geometry: the
 * commands MoveTo, LineTo and ClosePath with zigzag-encoded deltas. Properties are not read: the
 * page draws each source layer in one colour.
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
      if (wire === 1 || wire === 5) { at += wire === 1 ? 8 : 4; return [Math.floor(key / 8), null]; }
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

function feature(bytes, span) {
  const r = reader(bytes, span[0], span[1]);
  const out = { type: 0, parts: [] };
  while (!r.done) {
    const [number, value] = r.field();
    if (number === 3) out.type = value;
    else if (number === 4) out.parts = geometry(bytes, value);
  }
  return out;
}

function layer(bytes, span) {
  const r = reader(bytes, span[0], span[1]);
  const out = { name: '', extent: 4096, features: [] };
  while (!r.done) {
    const [number, value] = r.field();
    if (number === 1) out.name = new TextDecoder().decode(bytes.subarray(value[0], value[1]));
    else if (number === 2) out.features.push(feature(bytes, value));
    else if (number === 5) out.extent = value || 4096;
  }
  return out;
}

// The tile's layers: [{ name, extent, features: [{ type, parts }] }].
export function decodeTile(bytes) {
  const r = reader(bytes, 0, bytes.length);
  const layers = [];
  while (!r.done) {
    const [number, value] = r.field();
    if (number === 3) layers.push(layer(bytes, value));
  }
  return layers;
}

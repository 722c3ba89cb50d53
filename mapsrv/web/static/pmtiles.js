/**
 * A PMTiles v3 archive read in the page (issue 45), written from the spec
 * (github.com/protomaps/PMTiles, spec/v3/spec.md): the browser fetches the archive straight from
 * its host with HTTP range requests (the page's CSP names the hosts the operator allowed in
 * connect-src). The first 16 KiB hold the 127-byte header and the root directory; leaf
 * directories and tiles are fetched when a tile needs them, and kept in a small cache. Gzip'd
 * directories and tiles are unpacked with the browser's DecompressionStream.
 */

const FIRST_BYTES = 16384; // the header and the root directory, by the spec
const HEADER_BYTES = 127;
const MAX_DEPTH = 4; // root and leaves: writers use two levels; more is a loop
const KEPT = 128; // directories and tiles kept per archive
const TILE_TYPES = { 1: 'mvt', 2: 'png', 3: 'jpeg', 4: 'webp' };
const NONE = 1, GZIP = 2; // the spec's compression codes the page can unpack

// `bytes=a-b` of the archive; a host that answers 200 (the whole file) does not take ranges.
async function fetchRange(url, start, length) {
  const response = await fetch(url, {
    headers: { Range: 'bytes=' + start + '-' + (start + length - 1) },
    credentials: 'omit',
    mode: 'cors',
  });
  if (response.status !== 206) {
    throw new Error('pmtiles: the host answered HTTP ' + response.status + ' to a range request');
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function unpack(bytes, compression) {
  if (compression === NONE) return bytes;
  if (compression !== GZIP) throw new Error('pmtiles: compression ' + compression + ' is not gzip or none');
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function readHeader(bytes) {
  const magic = String.fromCharCode.apply(null, Array.from(bytes.subarray(0, 7)));
  if (bytes.length < HEADER_BYTES || magic !== 'PMTiles' || bytes[7] !== 3) {
    throw new Error('pmtiles: not a version 3 archive');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at) => Number(view.getBigUint64(at, true));
  const i32 = (at) => view.getInt32(at, true) / 1e7;
  return {
    rootOffset: u64(8), rootLength: u64(16),
    leafOffset: u64(40), tileOffset: u64(56),
    internalCompression: bytes[97], tileCompression: bytes[98],
    tileType: TILE_TYPES[bytes[99]] || null,
    minZoom: bytes[100], maxZoom: bytes[101],
    bounds: [i32(102), i32(106), i32(110), i32(114)],
  };
}

// Directory entries: a count, then four columns of varints (id deltas, run lengths, lengths,
// offsets; an offset of 0 after the first means "right after the previous entry").
export function readDirectory(bytes) {
  let at = 0;
  const varint = () => {
    let value = 0, scale = 1, byte;
    do {
      if (at >= bytes.length) throw new Error('pmtiles: a directory ends early');
      byte = bytes[at++];
      value += (byte & 0x7f) * scale; // arithmetic, not bit shifts: ids pass 2**32
      scale *= 128;
    } while (byte & 0x80);
    return value;
  };
  const count = varint();
  const entries = [];
  let id = 0;
  for (let i = 0; i < count; i++) { id += varint(); entries.push({ tileId: id, runLength: 0, length: 0, offset: 0 }); }
  for (const entry of entries) entry.runLength = varint();
  for (const entry of entries) entry.length = varint();
  entries.forEach((entry, i) => {
    const value = varint();
    entry.offset = i > 0 && value === 0 ? entries[i - 1].offset + entries[i - 1].length : value - 1;
  });
  return entries;
}

// The tile id: the tiles of all lower zooms, then the position on the zoom's Hilbert curve.
export function tileId(z, x, y) {
  let id = (Math.pow(4, z) - 1) / 3;
  for (let s = Math.pow(2, z - 1); s >= 1; s /= 2) {
    const rx = (x & s) > 0 ? 1 : 0;
    const ry = (y & s) > 0 ? 1 : 0;
    id += s * s * ((3 * rx) ^ ry);
    if (ry === 0) { // rotate the quadrant so the curve continues
      if (rx === 1) { x = s - 1 - (x % s); y = s - 1 - (y % s); }
      const t = x; x = y; y = t;
    }
  }
  return id;
}

// The entry holding `id`: the one with that id, or the run before it that reaches it, or a leaf
// directory (run length 0) that starts before it.
function findEntry(entries, id) {
  let low = 0, high = entries.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const diff = id - entries[middle].tileId;
    if (diff > 0) low = middle + 1;
    else if (diff < 0) high = middle - 1;
    else return entries[middle];
  }
  if (high < 0) return null;
  const before = entries[high];
  if (before.runLength === 0 || id - before.tileId < before.runLength) return before;
  return null;
}

export function openArchive(url) {
  const kept = new Map(); // byte offset -> promise of a directory's entries or a tile's bytes

  function remember(key, make) {
    if (kept.has(key)) {
      const hit = kept.get(key);
      kept.delete(key);
      kept.set(key, hit);
      return hit;
    }
    const made = make();
    made.catch(() => kept.delete(key)); // a failed read is tried again next time
    kept.set(key, made);
    if (kept.size > KEPT) kept.delete(kept.keys().next().value);
    return made;
  }

  const head = fetchRange(url, 0, FIRST_BYTES).then(async (bytes) => {
    const header = readHeader(bytes);
    const rootBytes = bytes.subarray(header.rootOffset, header.rootOffset + header.rootLength);
    const root = readDirectory(await unpack(rootBytes, header.internalCompression));
    return { header: header, root: root };
  });
  head.catch(() => {}); // a failure is reported where a tile or the header is asked for

  async function tile(z, x, y) {
    const { header, root } = await head;
    if (z < header.minZoom || z > header.maxZoom) return null;
    const id = tileId(z, x, y);
    let entries = root;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const entry = findEntry(entries, id);
      if (!entry) return null;
      if (entry.runLength > 0) {
        const at = header.tileOffset + entry.offset;
        return remember('t' + at, async () => unpack(await fetchRange(url, at, entry.length), header.tileCompression));
      }
      const at = header.leafOffset + entry.offset;
      entries = await remember('d' + at, async () =>
        readDirectory(await unpack(await fetchRange(url, at, entry.length), header.internalCompression)));
    }
    throw new Error('pmtiles: directories deeper than ' + MAX_DEPTH);
  }

  const header = head.then((h) => h.header);
  header.catch(() => {});
  return { header: header, tile: tile };
}

/**
 * PMTiles archives as Leaflet layers (issue 45): a grid layer whose tiles are canvases, drawn
 * from the archive the page reads itself (pmtiles.js). Raster archives: the tile's image decoded
 * with createImageBitmap and drawn (Leaflet scales tiles past the archive's max zoom). Vector
 * archives: the tile decoded (mvt.js) and drawn, polygons filled and outlined, lines stroked,
 * points as dots, each source layer in its own colour (the same name, the same colour, on every
 * page); past the archive's max zoom, the part of the max-zoom tile under the tile is drawn
 * larger, so lines stay sharp.
 */
import { openArchive } from './pmtiles.js';
import { decodeTile, TYPES } from './mvt.js';

const SIZE = 256;
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79'];
export const FILL_ALPHA = 0.5;

// A colour from a source layer's name: FNV-1a (32 bits) over its UTF-16 code units.
export function layerColor(name) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return PALETTE[hash % PALETTE.length];
}

function drawVector(context, layers, scale, shiftX, shiftY) {
  for (const layer of layers) {
    const color = layerColor(layer.name);
    const k = (SIZE * scale) / layer.extent;
    const at = (p) => [p[0] * k - shiftX, p[1] * k - shiftY];
    context.fillStyle = color;
    context.strokeStyle = color;
    for (const feature of layer.features) {
      if (feature.type === TYPES.POINT) {
        for (const part of feature.parts) {
          for (const p of part) {
            const [x, y] = at(p);
            context.beginPath();
            context.arc(x, y, 3, 0, 2 * Math.PI);
            context.fill();
          }
        }
        continue;
      }
      context.beginPath();
      for (const part of feature.parts) {
        part.forEach((p, i) => {
          const [x, y] = at(p);
          if (i === 0) context.moveTo(x, y);
          else context.lineTo(x, y);
        });
      }
      if (feature.type === TYPES.POLYGON) {
        context.globalAlpha = FILL_ALPHA;
        context.fill('evenodd'); // holes wind the other way: even-odd keeps them open
        context.globalAlpha = 1;
        context.lineWidth = 1;
      } else {
        context.lineWidth = 1.5;
      }
      context.stroke();
    }
  }
}

// source: the layer's JSON `source` (type pmtiles, with tiles, minzoom, maxzoom, bounds).
export function archiveLayer(source, options) {
  const archive = openArchive(source.url);
  const vector = source.tiles === 'vector';
  const b = source.bounds || [-180, -85.0511, 180, 85.0511];
  const layerOptions = Object.assign({}, options, {
    bounds: L.latLngBounds([b[1], b[0]], [b[3], b[2]]),
    minNativeZoom: source.minzoom || 0,
    minZoom: vector ? source.minzoom || 0 : 0,
  });
  if (!vector) layerOptions.maxNativeZoom = source.maxzoom;

  const Layer = L.GridLayer.extend({
    createTile(coords, done) {
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = SIZE;
      draw(canvas, coords).then(() => done(null, canvas), (error) => done(error, canvas));
      return canvas;
    },
  });

  async function draw(canvas, coords) {
    const context = canvas.getContext('2d');
    if (!vector) {
      const bytes = await archive.tile(coords.z, coords.x, coords.y);
      if (!bytes) return;
      const image = await createImageBitmap(new Blob([bytes], { type: 'image/' + source.format }));
      context.drawImage(image, 0, 0, SIZE, SIZE);
      image.close();
      return;
    }
    const deeper = Math.max(0, coords.z - source.maxzoom); // overzoom: a part of a max-zoom tile
    const scale = Math.pow(2, deeper);
    const x = Math.floor(coords.x / scale), y = Math.floor(coords.y / scale);
    const bytes = await archive.tile(coords.z - deeper, x, y);
    if (!bytes) return;
    const shiftX = (coords.x - x * scale) * SIZE, shiftY = (coords.y - y * scale) * SIZE;
    drawVector(context, decodeTile(bytes), scale, shiftX, shiftY);
  }

  return new Layer(layerOptions);
}

/**
 * Layers from elsewhere (issue 45): a layer whose `source` is tiles (xyz, wms, or a PMTiles
 * archive of raster or vector tiles) shows them under its features, loaded by the browser
 * straight from their server (the page's CSP names only the hosts the operator allowed,
 * --allowed-sources, in img-src and, for archives read with range requests, connect-src), with
 * their attribution as text. Each such layer is listed in a layer control of its own, where a
 * viewer can hide it for themselves.
 */
import { escapeHtml } from './dom.js';
import { archiveLayer } from './archives.js';

const TILED = ['xyz', 'wms', 'pmtiles'];

export function createSources(map) {
  let control = null;
  const shown = new Map(); // layer id -> { key, tiles, group }

  function tilesOf(source) {
    const common = {
      attribution: escapeHtml(source.attribution || ''),
      opacity: typeof source.opacity === 'number' ? source.opacity : 1,
      crossOrigin: false,
      className: 'mapsrv-source-tiles',
    };
    if (source.type === 'xyz') return L.tileLayer(source.url, common);
    if (source.type === 'pmtiles') {
      delete common.crossOrigin;
      return archiveLayer(source, common);
    }
    return L.tileLayer.wms(source.url, Object.assign(common, {
      layers: source.layers, styles: source.styles || '', format: source.format || 'image/png',
      transparent: source.transparent !== false, version: '1.1.1',
    }));
  }

  function drop(id) {
    const was = shown.get(id);
    if (!was) return;
    was.group.removeLayer(was.tiles);
    if (control) control.removeLayer(was.group);
    shown.delete(id);
  }

  // entry: render.js's layer (its id, name and group); source: the layer's JSON `source` or null.
  function set(entry, source) {
    const tiled = source && TILED.includes(source.type);
    const key = tiled ? JSON.stringify(source) + '\u0000' + entry.name : '';
    const was = shown.get(entry.id);
    if (was && was.key === key) return;
    drop(entry.id);
    if (!tiled) return;
    const tiles = tilesOf(source);
    tiles.setZIndex(source.tiles === 'vector' ? 2 : 1); // vector archives over raster tiles
    entry.group.addLayer(tiles);
    if (!control) control = L.control.layers(null, null, { position: 'bottomleft', collapsed: false }).addTo(map);
    control.addOverlay(entry.group, escapeHtml(entry.name));
    shown.set(entry.id, { key: key, tiles: tiles, group: entry.group });
  }

  return { set: set, drop: drop };
}

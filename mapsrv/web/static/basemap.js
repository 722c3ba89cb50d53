/* mapsrv: the offline world map (Natural Earth's countries, shipped with mapsrv and served
 * from /static/world/), drawn when the tile server cannot be reached, or chosen in the layer
 * control; on the page and in the MCP App. Countries come as TopoJSON; decoded here (quantized arcs, each point a delta from the
 * one before; a negative arc index is that arc reversed), drawn on a canvas in a pane under
 * everything else, never interactive. The 1:110m outlines below zoom 4, the 1:50m ones from it.
 */
const DETAILED_FROM_ZOOM = 4;
const FILES = { coarse: '/static/world/countries-110m.json', detailed: '/static/world/countries-50m.json' };
const TILE_FAILURES = 3; // failed tiles, none loaded, before the tile server counts as down
const STYLE = { stroke: true, color: '#beb8ac', weight: 1, fill: true, fillColor: '#f6f4ee', fillOpacity: 1, interactive: false };

function decodeArcs(topology) {
  const t = topology.transform;
  return topology.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map((p) => {
      if (!t) return [p[1], p[0]];
      x += p[0];
      y += p[1];
      return [y * t.scale[1] + t.translate[1], x * t.scale[0] + t.translate[0]]; // [lat, lon]
    });
  });
}

function ring(arcs, indexes) {
  const points = [];
  for (const index of indexes) {
    const arc = index >= 0 ? arcs[index] : arcs[~index].slice().reverse();
    for (let i = points.length ? 1 : 0; i < arc.length; i += 1) points.push(arc[i]);
  }
  return points;
}

// One L.polygon per country: its polygons, each an outer ring and its holes.
function countries(topology, renderer) {
  const arcs = decodeArcs(topology);
  const out = [];
  for (const g of topology.objects.countries.geometries) {
    const shapes = g.type === 'Polygon' ? [g.arcs] : g.type === 'MultiPolygon' ? g.arcs : [];
    if (!shapes.length) continue;
    const latlngs = shapes.map((shape) => shape.map((r) => ring(arcs, r)));
    out.push(L.polygon(latlngs, Object.assign({ renderer: renderer, pane: 'mapsrvBasemap' }, STYLE)));
  }
  return out;
}

/* The offline world map of `map`, under `tiles` (a tile layer, or null when none is configured:
 * then it is the map). It comes on by itself once TILE_FAILURES tiles failed and none loaded, and
 * is in the layer control. `origin`: where /static/world/ is (the MCP App's iframe has none of its
 * own). Answers {layer, onTiles(fn)}: fn(down) when the tile server is found down, or back. */
export function useOfflineWorld(map, tiles, { origin = '' } = {}) {
  map.createPane('mapsrvBasemap');
  map.getPane('mapsrvBasemap').style.zIndex = 150; // under the tiles (200) and the shapes (400)
  const renderer = L.canvas({ pane: 'mapsrvBasemap', padding: 0.2 });

  // The offline world map as one layer for the layer control, with its attribution.
  const OfflineWorld = L.Layer.extend({
    options: { attribution: 'Natural Earth' },
    onAdd(m) {
      this._group = this._group || L.layerGroup();
      this._group.addTo(m);
      m.getContainer().classList.add('mapsrv-offline');
      m.on('zoomend', this._choose, this);
      this._choose();
    },
    onRemove(m) {
      m.off('zoomend', this._choose, this);
      m.getContainer().classList.remove('mapsrv-offline');
      this._group.remove();
    },
    _choose() {
      const which = this._map.getZoom() >= DETAILED_FROM_ZOOM ? 'detailed' : 'coarse';
      if (which === this._showing) return;
      this._showing = which;
      load(which).then((shapes) => {
        if (this._showing !== which || !this._map) return;
        this._group.clearLayers();
        for (const shape of shapes) this._group.addLayer(shape);
        document.body.dataset.basemap = 'offline-' + which;
      }).catch(() => { this._showing = null; });
    },
  });

  const loaded = {};
  function load(which) {
    if (!loaded[which]) {
      loaded[which] = fetch(origin + FILES[which], { cache: 'force-cache' })
        .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
        .then((topology) => countries(topology, renderer));
      loaded[which].catch(() => { delete loaded[which]; });
    }
    return loaded[which];
  }

  const offline = new OfflineWorld();
  const listeners = [];
  if (!tiles) {
    offline.addTo(map); // no tile server configured: the offline map is the map
  } else {
    // Under the tile pane: tiles that come cover it; where they fail, it shows.
    L.control.layers(null, { 'Offline world map': offline }, { position: 'bottomleft' }).addTo(map);
    let failed = 0;
    let loadedTiles = 0;
    let down = false;
    tiles.on('tileerror', () => {
      failed += 1;
      if (loadedTiles > 0 || failed < TILE_FAILURES || down) return;
      down = true;
      if (!map.hasLayer(offline)) offline.addTo(map);
      listeners.forEach((fn) => fn(true));
    });
    tiles.on('tileload', () => {
      loadedTiles += 1;
      if (!down) return;
      down = false;
      listeners.forEach((fn) => fn(false));
    });
  }
  return { layer: offline, onTiles: (fn) => listeners.push(fn) };
}

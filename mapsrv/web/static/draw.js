/* mapsrv page: the drawing tools (edit link only), written on Leaflet's own API.
 *
 * Marker and note: a click (or a tap) places it; from the keyboard, Enter or Space places it at
 * the centre of the map, where a crosshair shows (arrow keys pan the map). Line and area: each
 * click adds a point (Space adds the centre); a double-click, Enter or the Finish button ends
 * the shape, Escape cancels it. A new feature opens in the editor for its label and popup.
 */
import { page } from './map.js';

const { cfg, map, byId } = page;
if (cfg.mode === 'edit') drawingTools();

function drawingTools() {
  const NOTES = 'notes';
  const NOTE_STYLE = { symbol: '📝', color: '#f59e0b' };
  const MIN_POINTS = { polyline: 2, polygon: 3 };
  const HINTS = {
    marker: 'Click the map to add a marker, or press Enter to add one at the crosshair. Escape to stop.',
    note: 'Click where your note belongs, or press Enter for the crosshair. Escape to stop.',
    polyline: 'Click to add points (Space: at the crosshair). Double-click, Enter or Finish to end; Escape cancels.',
    polygon: 'Click to add corners (Space: at the crosshair). Double-click, Enter or Finish to end; Escape cancels.',
  };
  const KEYS = { m: 'marker', l: 'polyline', p: 'polygon', n: 'note' };

  const toolbar = byId('toolbar');
  const hint = byId('hint');
  const crosshair = byId('crosshair');
  const finishButton = byId('finish');
  const cancelButton = byId('cancel');
  const sketch = L.layerGroup().addTo(map);
  let points = []; // the shape being drawn, [lat, lon] each
  let base = -1; // the version when the shape began
  let preview = null;
  let rubber = null;

  toolbar.hidden = false;

  function round(x) { return Math.round(x * 1e6) / 1e6; }
  function pointOf(latlng) { return [round(latlng.lat), round(latlng.lng)]; }

  function setTool(tool) {
    resetSketch();
    page.tool = tool;
    for (const button of toolbar.querySelectorAll('[data-tool]')) {
      button.setAttribute('aria-pressed', String(button.dataset.tool === tool));
    }
    const shape = tool === 'polyline' || tool === 'polygon';
    finishButton.hidden = !shape;
    cancelButton.hidden = !tool;
    crosshair.hidden = !tool;
    hint.hidden = !tool;
    hint.textContent = tool ? HINTS[tool] : '';
    document.body.classList.toggle('drawing', !!tool);
    if (page.updateHelp) page.updateHelp();
    if (tool) {
      page.deselect();
      map.doubleClickZoom.disable();
      base = page.version;
    } else {
      map.doubleClickZoom.enable();
    }
  }
  page.setTool = setTool;

  function resetSketch() {
    points = [];
    sketch.clearLayers();
    preview = null;
    rubber = null;
  }

  function redrawSketch() {
    sketch.clearLayers();
    preview = (page.tool === 'polygon' && points.length >= 3 ? L.polygon : L.polyline)(points, {
      className: 'mapsrv-sketch', interactive: false,
    }).addTo(sketch);
    rubber = null;
    points.forEach((p) => L.circleMarker(p, { radius: 5, className: 'mapsrv-sketch-point', interactive: false }).addTo(sketch));
    finishButton.disabled = points.length < MIN_POINTS[page.tool];
  }

  function addPoint(latlng) {
    if (points.length === 0) base = page.version;
    const p = pointOf(latlng);
    const last = points[points.length - 1];
    if (last && last[0] === p[0] && last[1] === p[1]) return; // the second click of a double-click
    points.push(p);
    redrawSketch();
    hint.textContent = points.length + (points.length === 1 ? ' point' : ' points') + '. ' + HINTS[page.tool];
  }

  async function create(ops, id) {
    const startedAt = base;
    if (await page.write(ops, startedAt)) {
      await whenDrawn(id);
      page.select(id);
      byId('editor-label').focus();
    }
  }

  function whenDrawn(id) {
    return new Promise((resolve) => {
      if (page.features.has(id)) { resolve(); return; }
      const check = () => {
        if (page.features.has(id)) { window.removeEventListener('mapsrv:applied', check); resolve(); }
      };
      window.addEventListener('mapsrv:applied', check);
    });
  }

  async function finishShape() {
    const tool = page.tool;
    if (tool !== 'polyline' && tool !== 'polygon') return;
    if (points.length < MIN_POINTS[tool]) {
      page.toast(tool === 'polygon' ? 'An area needs at least 3 points.' : 'A line needs at least 2 points.');
      return;
    }
    const coords = points.slice();
    setTool(null);
    const id = page.newId(tool === 'polygon' ? 'area' : 'line');
    await create([{ op: 'add_feature', id: id, type: tool, coords: coords }], id);
  }

  async function placePoint(latlng) {
    const tool = page.tool;
    const id = page.newId(tool === 'note' ? 'note' : 'pin');
    const ops = [];
    if (tool === 'note') {
      if (!page.layers.has(NOTES)) ops.push({ op: 'add_layer', id: NOTES, name: 'Notes' });
      ops.push({ op: 'add_feature', id: id, type: 'marker', layer: NOTES, coords: pointOf(latlng), style: NOTE_STYLE });
    } else {
      ops.push({ op: 'add_feature', id: id, type: 'marker', coords: pointOf(latlng) });
    }
    setTool(null);
    await create(ops, id);
    if (tool === 'note') byId('editor-popup').focus();
  }

  map.on('click', (event) => {
    if (page.replaying) return;
    if (page.tool === 'marker' || page.tool === 'note') placePoint(event.latlng);
    else if (page.tool) addPoint(event.latlng);
    else page.deselect();
  });
  map.on('dblclick', () => { if (page.tool === 'polyline' || page.tool === 'polygon') finishShape(); });
  map.on('mousemove', (event) => {
    if (!points.length || !(page.tool === 'polyline' || page.tool === 'polygon')) return;
    const line = [points[points.length - 1], [event.latlng.lat, event.latlng.lng]];
    if (rubber) rubber.setLatLngs(line);
    else rubber = L.polyline(line, { className: 'mapsrv-sketch mapsrv-rubber', interactive: false }).addTo(sketch);
  });

  for (const button of toolbar.querySelectorAll('[data-tool]')) {
    button.addEventListener('click', () => {
      setTool(page.tool === button.dataset.tool ? null : button.dataset.tool);
      if (page.tool) map.getContainer().focus();
    });
  }
  finishButton.addEventListener('click', finishShape);
  cancelButton.addEventListener('click', () => setTool(null));

  // ---------------------------------------------------------------- keys

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
  }

  function pressable(target) {
    return target instanceof HTMLElement && ['BUTTON', 'A'].includes(target.tagName);
  }

  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || page.replaying) return;
    if (event.key === 'Escape') {
      if (page.tool) { setTool(null); event.preventDefault(); return; }
      if (page.selectedId()) { page.deselect(); event.preventDefault(); }
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    const tool = KEYS[event.key.toLowerCase()];
    if (tool) {
      event.preventDefault();
      setTool(page.tool === tool ? null : tool);
      if (page.tool) map.getContainer().focus();
      return;
    }
    if ((event.key === 'Delete' || event.key === 'Backspace') && page.selectedId()) {
      event.preventDefault();
      page.deleteSelected();
      return;
    }
    if (!page.tool || pressable(event.target)) return;
    if (event.key === 'Enter') {
      event.preventDefault();
      if (page.tool === 'marker' || page.tool === 'note') placePoint(map.getCenter());
      else finishShape();
    } else if (event.key === ' ') {
      event.preventDefault();
      if (page.tool === 'marker' || page.tool === 'note') placePoint(map.getCenter());
      else addPoint(map.getCenter());
    }
  });
}

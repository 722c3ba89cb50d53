/* mapsrv: an upload link's page (/u/<token>).
 *
 * The person drops a file on the page or chooses it, may name a layer and a projection (crs), and
 * sees what it holds before adding it: the file is PUT as it is to this page's own address with
 * ?preview=1 (read, not added: the counts, and the first features sketched, dashed, as the map
 * page's import preview draws them), again when the projection changes. "Add to map" PUTs it for
 * good (?progress=1), its upload's progress shown, then the server's read's (`{"progress": 0.4}`
 * lines, the answer last, as the map page's importer reads them). The answer says what was added,
 * with a link to the map's view page. A link takes one file: once added, the form goes.
 *
 * Everything a file or the server says is put in the page as text, never as markup.
 */
const byId = (id) => document.getElementById(id);
const panel = document.querySelector('main.upload');
const form = byId('upload-form');
const picker = byId('upload-file');
const drop = byId('upload-drop');
const chosenText = byId('upload-chosen');
const sendButton = byId('upload-send');
const status = byId('upload-status');
const shown = byId('upload-preview');
const sketch = byId('upload-sketch');
const SVG = 'http://www.w3.org/2000/svg';
const KINDS = {
  marker: ['marker', 'markers'], polyline: ['line', 'lines'], polygon: ['area', 'areas'],
  circle: ['circle', 'circles'], rectangle: ['rectangle', 'rectangles'],
};
let chosen = null;
let asked = 0; // the latest preview asked for: an older one's answer is not shown

function say(text, failed) {
  status.textContent = text;
  status.classList.toggle('failed', !!failed);
}

function choose(file) {
  chosen = file || null;
  chosenText.textContent = chosen ? chosen.name : 'Drop a file here, or choose one';
  sendButton.disabled = !chosen;
  shown.hidden = true;
  const limit = Number(panel.dataset.maxFileSize || 0);
  if (chosen && limit && chosen.size > limit) {
    say(chosen.name + ' is larger than this server takes (' + Math.floor(limit / 2 ** 20) + ' MiB)', true);
    sendButton.disabled = true;
  } else {
    say('');
    if (chosen) look(chosen);
  }
}

// Web Mercator's y of a latitude (the map's own projection), so the sketch has the map's shapes
function mercator(lat) {
  const clamped = Math.max(-85, Math.min(85, lat));
  return Math.log(Math.tan(Math.PI / 4 + (clamped * Math.PI) / 360));
}

function positions(coords, out) {
  if (typeof coords[0] === 'number') out.push(coords);
  else for (const part of coords) positions(part, out);
  return out;
}

function draw(geometry, place) {
  if (!geometry) return;
  const { type, coordinates } = geometry;
  const path = (rings) => {
    const d = rings.map((ring) => 'M' + ring.map((p) => place(p).join(' ')).join('L') + 'Z').join('');
    const shape = document.createElementNS(SVG, 'path');
    shape.setAttribute('d', d);
    shape.setAttribute('fill-rule', 'evenodd');
    sketch.append(shape);
  };
  const line = (points) => {
    const shape = document.createElementNS(SVG, 'polyline');
    shape.setAttribute('points', points.map((p) => place(p).join(',')).join(' '));
    sketch.append(shape);
  };
  const point = (p) => {
    const [x, y] = place(p);
    const dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', x); dot.setAttribute('cy', y); dot.setAttribute('r', 2.5);
    sketch.append(dot);
  };
  if (type === 'Point') point(coordinates);
  else if (type === 'MultiPoint') coordinates.forEach(point);
  else if (type === 'LineString') line(coordinates);
  else if (type === 'MultiLineString') coordinates.forEach(line);
  else if (type === 'Polygon') path(coordinates);
  else if (type === 'MultiPolygon') coordinates.forEach(path);
  else if (type === 'GeometryCollection') geometry.geometries.forEach((g) => draw(g, place));
}

function picture(collection) {
  sketch.replaceChildren();
  const features = (collection && collection.features) || [];
  const all = [];
  for (const f of features) if (f.geometry) positions(f.geometry.coordinates || [], all);
  if (!all.length) return;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => mercator(p[1]));
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min(300 / Math.max((x1 - x0) * (Math.PI / 180), 1e-9), 160 / Math.max(y1 - y0, 1e-9));
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const place = (p) => [
    Math.round((160 + (p[0] - cx) * (Math.PI / 180) * scale) * 10) / 10,
    Math.round((90 - (mercator(p[1]) - cy) * scale) * 10) / 10,
  ];
  for (const f of features) draw(f.geometry, place);
}

function holds(answer) {
  const parts = Object.entries(answer.kinds || {}).map(([kind, count]) => {
    const names = KINDS[kind] || [kind, kind + 's'];
    return count + ' ' + names[count === 1 ? 0 : 1];
  });
  const layers = (answer.layers || []).join(', ');
  const drawn = answer.preview && answer.preview.features ? answer.preview.features.length : 0;
  return 'It holds ' + (parts.join(', ') || answer.added + ' features') + (layers ? ', in ' + layers : '')
    + (drawn < answer.added ? ' (the first ' + drawn + ' sketched)' : '') + '.';
}

// What the file would add, read by the server and not added (?preview=1)
async function look(file) {
  const mine = ++asked;
  say('Reading ' + file.name + '…');
  const result = await send(file, true);
  if (mine !== asked || file !== chosen) return;
  if (!result.ok) {
    say('This file cannot be added: ' + result.message, true);
    sendButton.disabled = true;
    return;
  }
  say('');
  byId('upload-holds').textContent = holds(result.answer);
  picture(result.answer.preview);
  shown.hidden = false;
  document.body.dataset.previewed = String(mine);
}

function lines(text) {
  const out = [];
  for (const row of text.split('\n')) {
    try { if (row.trim()) out.push(JSON.parse(row)); } catch (e) { /* a line cut short */ }
  }
  return out;
}

function summary(answer, file) {
  const parts = Object.entries(answer.kinds || {}).map(([kind, count]) => {
    const names = KINDS[kind] || [kind, kind + 's'];
    return count + ' ' + names[count === 1 ? 0 : 1];
  });
  return 'Added ' + (parts.join(', ') || answer.added + ' features') + ' from ' + file.name;
}

function send(file, previewOnly) {
  const query = new URLSearchParams({ filename: file.name, progress: '1' });
  if (previewOnly) query.set('preview', '1');
  for (const name of ['layer', 'crs']) {
    const value = byId('upload-' + name).value.trim();
    if (value) query.set(name, value);
  }
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open('PUT', location.pathname + '?' + query);
    request.setRequestHeader('Content-Type', 'application/octet-stream');
    request.responseType = 'text';
    request.upload.addEventListener('progress', (event) => {
      if (!previewOnly && event.lengthComputable && event.loaded < event.total) {
        say('Sending ' + file.name + '… ' + Math.floor((event.loaded / event.total) * 100) + ' %');
      }
    });
    request.upload.addEventListener('load', () => say('Reading ' + file.name + '…'));
    request.addEventListener('progress', () => {
      const said = lines(request.responseText).filter((row) => typeof row.progress === 'number');
      if (said.length) say('Reading ' + file.name + '… ' + Math.floor(said[said.length - 1].progress * 100) + ' %');
    });
    request.addEventListener('load', () => {
      const last = lines(request.responseText).filter((row) => typeof row.progress !== 'number').pop() || null;
      const error = last && last.error;
      if (request.status < 200 || request.status > 299 || error) {
        const message = error && error.message ? String(error.message) : 'the server answered ' + request.status;
        resolve({ ok: false, message });
      } else {
        resolve({ ok: true, answer: last });
      }
    });
    request.addEventListener('error', () => resolve({ ok: false, message: 'the server cannot be reached' }));
    request.send(file);
  });
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!chosen) return;
  const file = chosen;
  sendButton.disabled = true;
  say('Sending ' + file.name + '…');
  const result = await send(file);
  if (!result.ok) {
    say('Not added: ' + result.message, true);
    sendButton.disabled = false;
    return;
  }
  say('');
  form.hidden = true;
  byId('upload-added').textContent = summary(result.answer, file) + '.';
  const view = byId('upload-view');
  try { view.href = new URL(result.answer.view_url).pathname; } catch (e) { view.hidden = true; }
  byId('upload-result').hidden = false;
  document.body.dataset.uploaded = String(result.answer.version);
});

picker.addEventListener('change', () => choose(picker.files[0]));
byId('upload-crs').addEventListener('change', () => { if (chosen) look(chosen); });
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('dragging'); });
drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('dragging');
  if (event.dataTransfer && event.dataTransfer.files.length) choose(event.dataTransfer.files[0]);
});

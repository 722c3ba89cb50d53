/* mapsrv page: files in (edit link only) and out (every link).
 *
 * In: a GPX, KML, KMZ, CSV or GeoJSON file, or a GIS file (a zipped Shapefile, a GeoPackage, a
 * FlatGeobuf, a GeoParquet), dropped on the page or chosen with the picker is sent (its upload's
 * progress shown, then the server's read's: the answer comes as lines, `{"progress": 0.4}` while
 * the file is read and the import's answer last) as it is to POST /m/<id>/import?preview=1&progress=1,
 * which reads it exactly as the commit will and
 * answers what would be added (counts, layers, notes, the rows that did not resolve, and the
 * first features as GeoJSON). The preview is drawn over the map (the page listens for
 * `mapsrv:import-preview`) until the person adds it (one batch, all or none) or cancels.
 * Out: links to /export.<format> under this page's own prefix (the view link's for a viewer).
 *
 * Everything a file or the server says is put in the page as text, never as markup.
 */
const body = document.body;
const byId = (id) => document.getElementById(id);
const editing = body.dataset.mode === 'edit';
const prefix = (body.dataset.events || '').replace(/\/events$/, '');
const ACCEPT = '.gpx,.kml,.kmz,.csv,.tsv,.txt,.geojson,.json,.zip,.gpkg,.fgb,.parquet';
// Each format's name as people say it, and its download's extension where that is not its name.
const NAMES = {
  geojson: 'GeoJSON', gpx: 'GPX', kml: 'KML', kmz: 'KMZ', csv: 'CSV',
  shp: 'Shapefile', gpkg: 'GeoPackage', fgb: 'FlatGeobuf', parquet: 'GeoParquet',
};
const EXTENSIONS = { shp: 'shp.zip' };
const EXPORTS = ['gpx', 'kml', 'csv'];  // GeoJSON: #export-link
// The GIS formats behind "More", so that the panel stays as small as it was over the map.
const MORE_EXPORTS = ['shp', 'gpkg', 'fgb', 'parquet'];

function exportLink(format) {
  const link = document.createElement('a');
  link.className = 'btn btn-link';
  link.href = prefix + '/export.' + (EXTENSIONS[format] || format);
  link.setAttribute('download', '');
  link.textContent = NAMES[format];
  link.dataset.format = format;
  return link;
}

function setExports() {
  const list = byId('export-formats');
  if (!list || !prefix) return;
  list.replaceChildren(...EXPORTS.map(exportLink));
  const more = document.createElement('details');
  more.className = 'export-more';
  const summary = document.createElement('summary');
  summary.className = 'btn btn-link';
  summary.textContent = 'More';
  summary.title = 'Shapefile, GeoPackage, FlatGeobuf, GeoParquet';
  const menu = document.createElement('span');
  menu.className = 'export-more-list';
  menu.append(...MORE_EXPORTS.map(exportLink));
  more.append(summary, menu);
  list.append(more);
}

// The preview: what the file would add, dashed over the map, never part of it. SVG, not the
// big map's canvas: a preview is at most a few thousand features, and each keeps its element.
let shown = null;

function preview(geojson) {
  const map = window.mapsrv && window.mapsrv.map;
  if (shown) { shown.remove(); shown = null; }
  if (!geojson || !map || !window.L) return;
  const L = window.L;
  const style = { color: '#ea580c', weight: 3, dashArray: '6 5', fillOpacity: 0.15, className: 'mapsrv-import-preview' };
  shown = L.geoJSON(geojson, {
    renderer: L.svg({ padding: 0.2 }),
    style: () => style,
    pointToLayer: (feature, latlng) => L.circleMarker(latlng, Object.assign({ radius: 7 }, style)),
    interactive: false,
  }).addTo(map);
  // What the file covers, clear of the panel (top right) and this dialog (bottom right).
  const help = byId('help');
  if (help) help.hidden = true;
  const bounds = shown.getBounds();
  const wide = map.getSize().x > 900;
  if (bounds.isValid()) {
    map.fitBounds(bounds, {
      paddingTopLeft: [60, 60],
      paddingBottomRight: wide ? [420, 60] : [40, 260],
      maxZoom: 15,
    });
  }
}

function errorText(json, status) {
  const err = json && json.error;
  if (err && typeof err === 'object' && err.message) return String(err.message);
  if (typeof err === 'string') return err;
  if (status === 413) return 'the file is larger than this server accepts';
  return status ? 'the server answered ' + status : 'the server cannot be reached';
}

// The complete lines of a streamed answer, each parsed (a line cut short is not yet complete).
function lines(text) {
  const out = [];
  for (const row of text.split('\n').slice(0, -1)) {
    try { out.push(JSON.parse(row)); } catch (e) { /* not a line of ours */ }
  }
  return out;
}

// XMLHttpRequest, not fetch: only it reports an upload's progress, which a big file needs.
// progress(sent, read): the upload's share sent, then the server's read's (null until it says).
// The file itself is sent (the browser streams it from disk), never read whole into the page.
function send(file, previewOnly, progress) {
  const query = new URLSearchParams({ filename: file.name, progress: '1' });
  if (previewOnly) query.set('preview', '1');
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open('POST', prefix + '/import?' + query);
    request.setRequestHeader('Content-Type', 'application/octet-stream');
    request.setRequestHeader('Accept', 'application/x-ndjson, application/json');
    request.responseType = 'text';
    if (progress) {
      request.upload.addEventListener('progress', (event) => {
        if (event.lengthComputable) progress(event.loaded / event.total, null);
      });
      request.upload.addEventListener('load', () => progress(1, null));
      request.addEventListener('progress', () => {
        const said = lines(request.responseText).filter((row) => typeof row.progress === 'number');
        if (said.length) progress(1, said[said.length - 1].progress);
      });
    }
    request.addEventListener('load', () => {
      let json = null;
      try { json = JSON.parse(request.responseText); } catch (e) { /* lines, or not JSON */ }
      if (json === null) json = lines(request.responseText).pop() || null;
      if (request.status < 200 || request.status > 299 || (json && json.error)) {
        resolve({ ok: false, message: errorText(json, (json && json.status) || request.status) });
      } else {
        resolve({ ok: true, body: json });
      }
    });
    request.addEventListener('error', () => resolve({ ok: false, message: errorText(null, 0) }));
    request.send(file);
  });
}

// "Sending rivers.gpkg… 40 %" while the upload goes, then "Reading rivers.gpkg… 40 %" while
// the server reads it (a file whose size in rows is not known up front: "Reading rivers.kml…").
function progressTo(title, file) {
  return (sent, read) => {
    if (sent < 1) title.textContent = 'Sending ' + file.name + '… ' + Math.floor(sent * 100) + ' %';
    else if (read === null) title.textContent = 'Reading ' + file.name + '…';
    else title.textContent = 'Reading ' + file.name + '… ' + Math.floor(read * 100) + ' %';
  };
}

// A kind's name, one and many: "1 area", "3 areas of several parts".
const KIND_NAMES = {
  marker: ['marker', 'markers'],
  polyline: ['line', 'lines'],
  polygon: ['area', 'areas'],
  circle: ['circle', 'circles'],
  rectangle: ['rectangle', 'rectangles'],
  multipoint: ['group of points', 'groups of points'],
  multipolyline: ['line of several parts', 'lines of several parts'],
  multipolygon: ['area of several parts', 'areas of several parts'],
  collection: ['collection of shapes', 'collections of shapes'],
};

function describe(report) {
  const parts = [];
  for (const [kind, n] of Object.entries(report.kinds || {})) {
    const [one, many] = KIND_NAMES[kind] || [kind, kind + 's'];
    parts.push(n + ' ' + (n === 1 ? one : many));
  }
  return parts.join(', ') || 'nothing';
}

function line(parent, text, className) {
  const item = document.createElement('li');
  item.textContent = text;
  if (className) item.className = className;
  parent.append(item);
}

const dialog = byId('import');
let pending = null; // { file } while a preview is shown

function close() {
  pending = null;
  if (dialog) dialog.hidden = true;
  preview(null);
}

function show(file, report) {
  byId('import-title').textContent = 'Add ' + file.name + '?';
  byId('import-summary').textContent =
    (NAMES[report.format] || report.format.toUpperCase()) + ': ' + describe(report) +
    (report.layers ? ' in ' + report.layers.length + ' layer' + (report.layers.length === 1 ? '' : 's') : '') + '.';
  const list = byId('import-notes');
  list.replaceChildren();
  for (const note of report.notes || []) line(list, note);
  if (report.n_unresolved) {
    line(list, report.n_unresolved + ' row' + (report.n_unresolved === 1 ? '' : 's') +
      ' had a place name that was not found, and will not be added:', 'import-warning');
    for (const row of report.unresolved || []) line(list, 'line ' + row.line + ': ' + row.text, 'import-row');
  }
  byId('import-error').hidden = true;
  byId('import-add').disabled = false;
  dialog.hidden = false;
  byId('import-add').focus();
  preview(report.preview || null);
}

function fail(message) {
  const el = byId('import-error');
  el.textContent = message;
  el.hidden = false;
  dialog.hidden = false;
}

async function take(file) {
  if (!file || !dialog) return;
  close();
  byId('import-title').textContent = 'Reading ' + file.name + '…';
  byId('import-summary').textContent = '';
  byId('import-notes').replaceChildren();
  byId('import-error').hidden = true;
  byId('import-add').disabled = true;
  dialog.hidden = false;
  const result = await send(file, true, progressTo(byId('import-title'), file));
  if (!result.ok) {
    byId('import-title').textContent = 'Cannot add ' + file.name;
    fail(result.message);
    return;
  }
  pending = { file };
  show(file, result.body);
}

async function commit() {
  if (!pending) return;
  const { file } = pending;
  byId('import-add').disabled = true;
  const result = await send(file, false, progressTo(byId('import-title'), file));
  if (!result.ok) {
    fail('Not added: ' + result.message);
    return;
  }
  close();
  const status = byId('import-status');
  status.textContent = 'Added ' + describe(result.body) + ' from ' + file.name + '.';
  status.hidden = false;
  body.dataset.importedVersion = String(result.body.version);
}

function wireImport() {
  const picker = byId('import-file');
  const open = byId('import-open');
  if (!editing || !picker || !open || !dialog) {
    if (open) open.remove();
    return;
  }
  open.hidden = false;
  picker.accept = ACCEPT;
  open.addEventListener('click', () => picker.click());
  picker.addEventListener('change', () => {
    const file = picker.files && picker.files[0];
    picker.value = '';
    take(file);
  });
  byId('import-add').addEventListener('click', commit);
  byId('import-cancel').addEventListener('click', close);
  dialog.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { event.stopPropagation(); close(); }
  });

  // Dropping a file anywhere on the page imports it; the page says so while one is dragged.
  const zone = byId('drop-zone');
  let depth = 0;
  const hasFile = (event) => Array.from(event.dataTransfer?.types || []).includes('Files');
  window.addEventListener('dragenter', (event) => {
    if (!hasFile(event)) return;
    depth += 1;
    zone.hidden = false;
  });
  window.addEventListener('dragleave', (event) => {
    if (!hasFile(event)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) zone.hidden = true;
  });
  window.addEventListener('dragover', (event) => {
    if (hasFile(event)) event.preventDefault();
  });
  window.addEventListener('drop', (event) => {
    if (!hasFile(event)) return;
    event.preventDefault();
    depth = 0;
    zone.hidden = true;
    take(event.dataTransfer.files[0]);
  });
}

setExports();
wireImport();

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
 * A table (CSV) can instead be joined to outlines, as the import tool's `join` does
 * (docs/joins.md): the dialog offers "Join rows to" countries or first-level regions, the column
 * (the one the server picked, from the preview's `joined`) and, for regions, a country; each
 * choice previews again with `join`, `key` and `country`, and the commit sends what was
 * previewed. The server joins; the page only asks, and shows what matched and what did not.
 * It can also be joined to a layer already on the map ("Join rows to" lists the map's layers
 * with features; `join=layer&layer=<id>`): its rows' columns are added to the features their
 * key names, and the preview says how many, which rows matched nothing (with the nearest key)
 * and which keys came twice.
 * A GIS file whose numbers are in a system it does not name is refused with the systems likely
 * to be its own (`needs_crs`, `candidates`): the dialog then asks for its coordinate system (one
 * of those, or any the person types) and previews again with `crs`.
 * A file of GPS tracks, on a server with a router, can be put on the roads it followed ("Put tracks
 * on the roads": by car, bike or foot), as the tool's `snap`: the preview shows the snapped tracks.
 * The query's words are the tool's (mapsrv.hub.file_door: one door for files).
 * Out: links to /export.<format> under this page's own prefix (the view link's for a viewer).
 *
 * Everything a file or the server says is put in the page as text, never as markup.
 */
import { page } from './map.js';

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
function send(file, previewOnly, progress, extra) {
  const query = new URLSearchParams(Object.assign({ filename: file.name, progress: '1' }, extra));
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
        const error = json && typeof json.error === 'object' ? json.error : null;
        resolve({ ok: false, message: errorText(json, (json && json.status) || request.status), error });
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
  if (report.joined && report.joined.to === 'layer') {
    const n = report.joined.features;
    return 'columns for ' + n + ' feature' + (n === 1 ? '' : 's') + ' already on the map';
  }
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
let current = null; // the file in the dialog
let pending = null; // { file, query } while its preview is shown: the commit sends the same query
let asked = 0; // the latest preview asked for: an older one's answer is not shown
const TABLE = /\.(csv|tsv|txt)$/i;
const JOINED_TO = { countries: 'countries', regions: 'first-level regions' };

const LAYER = 'layer:'; // a join-to option's value for a layer of the map: layer:<id>

// The join the person chose, as the import's query: nothing, or join with key and country (or
// the layer); or, for a file of tracks, the roads to put them on (`snap`, as the tool's).
function joinQuery() {
  const to = byId('import-join-to').value;
  const crs = byId('import-crs').value.trim();
  const snap = byId('import-snap').value;
  if (!to) return Object.assign(crs ? { crs: crs } : {}, snap ? { snap: snap } : {});
  const query = to.startsWith(LAYER) ? { join: 'layer', layer: to.slice(LAYER.length) } : { join: to };
  if (byId('import-key').value) query.key = byId('import-key').value;
  const country = byId('import-country').value.trim();
  if (to === 'regions' && country) query.country = country;
  if (crs) query.crs = crs;
  return query;
}

// A GIS file that names no coordinate system: its likely ones (the server's `candidates`, each
// system whose area of use holds the file's numbers) to pick from, or any the person types.
function offerCrs(candidates) {
  const options = (candidates || []).map((c) => {
    const option = document.createElement('option');
    option.value = c.crs;
    option.label = c.crs + ': ' + c.name;
    return option;
  });
  byId('import-crs-list').replaceChildren(...options);
  byId('import-crs-row').hidden = false;
}

// The column picker: "(as found)" (the server picks), then the table's columns, `key` chosen.
function offerColumns(columns, key) {
  const picker = byId('import-key');
  const first = document.createElement('option');
  first.value = '';
  first.textContent = '(as found)';
  const options = (columns || []).map((name) => {
    const option = document.createElement('option');
    option.value = name;
    option.textContent = name;
    return option;
  });
  picker.replaceChildren(first, ...options);
  picker.value = columns && columns.includes(key) ? key : '';
}

// "Join rows to": countries, regions, then each of the map's layers that has features.
function offerLayers() {
  const select = byId('import-join-to');
  const chosen = select.value;
  for (const option of Array.from(select.options)) if (option.value.startsWith(LAYER)) option.remove();
  const counts = new Map();
  for (const entry of page.features.values()) counts.set(entry.layerId, (counts.get(entry.layerId) || 0) + 1);
  for (const [id, layer] of page.layers) {
    if (!counts.get(id)) continue;
    const option = document.createElement('option');
    option.value = LAYER + id;
    option.textContent = 'layer “' + (layer.name || id) + '” (' + counts.get(id) + ')';
    select.append(option);
  }
  select.value = Array.from(select.options).some((o) => o.value === chosen) ? chosen : '';
}

// "Put tracks on the roads": offered when the server has a router and the file has tracks (or
// two timed points, which make one: a CSV of fixes), as the tool's `snap`.
function showSnap(report) {
  const kinds = (report && report.kinds) || {};
  const shown = (report && report.preview && report.preview.features) || [];
  const timed = shown.filter((f) => f.geometry && f.geometry.type === 'Point' && f.properties && f.properties.time);
  const tracks = (kinds.polyline || 0) + (kinds.multipolyline || 0) + (timed.length > 1 ? 1 : 0);
  const chosen = byId('import-snap').value;
  byId('import-snap-row').hidden = !(body.dataset.router && (chosen || (tracks && !report.joined)));
}

function showJoin(file, format) {
  const to = byId('import-join-to').value;
  byId('import-join').hidden = !(TABLE.test(file.name) || format === 'csv' || to);
  byId('import-key-row').hidden = !to;
  byId('import-country-row').hidden = to !== 'regions';
}

// "3 of 5 rows matched 3 features of layer “districts” by column “district_id” (their
// district_id); unmatched: 1O4 (nearest: 104); repeated: 103 (line 6)".
function layerJoinedText(joined) {
  const name = (page.layers.get(joined.layer) || {}).name || joined.layer;
  const unmatched = (joined.unmatched || []).map((row) => row.value + (row.nearest ? ' (nearest: ' + row.nearest + ')' : ''));
  const more = (joined.unmatched_count || 0) - unmatched.length;
  const repeated = (joined.duplicates || []).map((d) => d.value + ' (line' + (d.lines.length === 1 ? ' ' : 's ') + d.lines.join(', ') + ')');
  return joined.matched + ' of ' + joined.rows + ' row' + (joined.rows === 1 ? '' : 's') + ' matched ' +
    joined.features + ' feature' + (joined.features === 1 ? '' : 's') + ' of layer “' + name + '” by column “' +
    joined.key + '” (their ' + joined.by + ')' +
    (unmatched.length ? '; unmatched: ' + unmatched.join(', ') + (more > 0 ? ' and ' + more + ' more' : '') : '') +
    (repeated.length ? '; repeated, only the first joined: ' + repeated.join(', ') : '') + '.';
}

// "3 of 4 rows matched to countries by column “country”; unmatched: Atlantis (not a country)".
function joinedText(joined, report) {
  if (joined.to === 'layer') return layerJoinedText(joined);
  const unmatched = (report.unresolved || []).map((row) => row.text);
  const more = (report.n_unresolved || 0) - unmatched.length;
  return joined.matched + ' of ' + joined.rows + ' row' + (joined.rows === 1 ? '' : 's') +
    ' matched to ' + (JOINED_TO[joined.to] || joined.to) + ' by column “' + joined.key + '”' +
    (unmatched.length ? '; unmatched: ' + unmatched.join(', ') + (more > 0 ? ' and ' + more + ' more' : '') : '') + '.';
}

function close() {
  pending = current = null;
  asked += 1;
  if (dialog) dialog.hidden = true;
  preview(null);
}

function show(file, report, focus) {
  const toLayer = report.joined && report.joined.to === 'layer';
  byId('import-title').textContent = (toLayer ? 'Join ' : 'Add ') + file.name + '?';
  byId('import-add').textContent = toLayer ? 'Join' : 'Add to map';
  byId('import-summary').textContent =
    (NAMES[report.format] || report.format.toUpperCase()) + ': ' + describe(report) +
    (report.layers ? ' in ' + report.layers.length + ' layer' + (report.layers.length === 1 ? '' : 's') : '') + '.';
  const list = byId('import-notes');
  list.replaceChildren();
  showJoin(file, report.format);
  showSnap(report);
  if (report.joined) {
    offerColumns(report.joined.columns, byId('import-key').value || report.joined.key);
    line(list, joinedText(report.joined, report), 'import-joined');
  }
  for (const note of report.notes || []) {
    if (!(report.joined && note.startsWith('joined '))) line(list, note); // the join's own, said above
  }
  if (report.n_unresolved && !report.joined) { // a join's unmatched rows are said with it, above
    line(list, report.n_unresolved + ' row' + (report.n_unresolved === 1 ? '' : 's') +
      ' had a place name that was not found, and will not be added:', 'import-warning');
    for (const row of report.unresolved || []) line(list, 'line ' + row.line + ': ' + row.text, 'import-row');
  }
  byId('import-error').hidden = true;
  byId('import-add').disabled = false;
  dialog.hidden = false;
  if (focus) byId('import-add').focus();
  preview(report.preview || null);
}

function fail(message) {
  const el = byId('import-error');
  el.textContent = message;
  el.hidden = false;
  dialog.hidden = false;
}

function take(file) {
  if (!file || !dialog) return;
  close();
  offerLayers();
  byId('import-join-to').value = '';
  byId('import-crs').value = '';
  byId('import-crs-row').hidden = true;
  byId('import-country').value = '';
  byId('import-snap').value = '';
  byId('import-snap-row').hidden = true;
  offerColumns([], '');
  current = file;
  look(file, true);
}

// Preview `file` as the dialog's choices say (a join, its column, its country).
async function look(file, first) {
  const query = joinQuery();
  const mine = ++asked;
  pending = null;
  byId('import-title').textContent = 'Reading ' + file.name + '…';
  byId('import-summary').textContent = '';
  byId('import-notes').replaceChildren();
  byId('import-error').hidden = true;
  byId('import-add').disabled = true;
  showJoin(file, '');
  dialog.hidden = false;
  const result = await send(file, true, progressTo(byId('import-title'), file), query);
  if (mine !== asked || dialog.hidden) return; // another choice, or cancelled, since
  if (!result.ok) {
    byId('import-title').textContent = 'Cannot add ' + file.name;
    preview(null);
    if (result.error && Array.isArray(result.error.columns)) offerColumns(result.error.columns, query.key || '');
    if (result.error && result.error.code === 'needs_crs') offerCrs(result.error.candidates);
    // Rows that hold coordinates mapsrv could not pair are not countries to join to.
    const coordinates = result.error && Array.isArray(result.error.coordinates) && result.error.coordinates.length;
    const joinable = !byId('import-join').hidden && !query.join && !coordinates;
    fail(result.message + (joinable ? ' (or join its rows to countries or regions above)' : ''));
    return;
  }
  pending = { file, query };
  show(file, result.body, first);
}

async function commit() {
  if (!pending) return;
  const { file, query } = pending;
  byId('import-add').disabled = true;
  const result = await send(file, false, progressTo(byId('import-title'), file), query);
  if (!result.ok) {
    fail('Not added: ' + result.message);
    return;
  }
  close();
  const status = byId('import-status');
  status.textContent = 'Added ' + describe(result.body) + ' from ' + file.name + '.' +
    (result.body.times ? ' On the roads: ' + result.body.times + '.' : '');
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
  const again = () => { if (current) look(current, false); };
  byId('import-join-to').addEventListener('change', () => {
    byId('import-key').value = ''; // another join: the server picks its column again
    again();
  });
  byId('import-key').addEventListener('change', again);
  byId('import-crs').addEventListener('change', again);
  byId('import-country').addEventListener('change', again);
  byId('import-snap').addEventListener('change', again);
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

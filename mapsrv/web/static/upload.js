/* mapsrv: an upload link's page (/u/<token>).
 *
 * The person drops a file on the page or chooses it, may name a layer and a projection (crs), and
 * adds it: the file is PUT as it is to this page's own address (?progress=1), its upload's
 * progress shown, then the server's read's (`{"progress": 0.4}` lines, the import's answer last,
 * as the map page's importer reads them). The answer says what was added, with a link to the
 * map's view page. A link takes one file: once added, the form goes.
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
const KINDS = {
  marker: ['marker', 'markers'], polyline: ['line', 'lines'], polygon: ['area', 'areas'],
  circle: ['circle', 'circles'], rectangle: ['rectangle', 'rectangles'],
};
let chosen = null;

function say(text, failed) {
  status.textContent = text;
  status.classList.toggle('failed', !!failed);
}

function choose(file) {
  chosen = file || null;
  chosenText.textContent = chosen ? chosen.name : 'Drop a file here, or choose one';
  sendButton.disabled = !chosen;
  const limit = Number(panel.dataset.maxFileSize || 0);
  if (chosen && limit && chosen.size > limit) {
    say(chosen.name + ' is larger than this server takes (' + Math.floor(limit / 2 ** 20) + ' MiB)', true);
    sendButton.disabled = true;
  } else {
    say('');
  }
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

function send(file) {
  const query = new URLSearchParams({ filename: file.name, progress: '1' });
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
      if (event.lengthComputable && event.loaded < event.total) {
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
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('dragging'); });
drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('dragging');
  if (event.dataTransfer && event.dataTransfer.files.length) choose(event.dataTransfer.files[0]);
});

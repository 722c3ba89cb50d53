/* mapsrv page: who changed what (the snapshot's "activity" and each event's "change"), undo and
 * redo of the person's own changes, and the history slider: the map as it was at a version
 * (GET <prefix>/state?at=N), drawn apart from the live map and read-only until "Back to live".
 */
import { page } from './map.js';

const { cfg, map, byId, textNode } = page;
const SHOWN = 8;
const KEPT = 50;

const section = byId('activity');
const list = byId('activity-list');
const undoButton = byId('undo');
const redoButton = byId('redo');
let changes = []; // newest last: {first, version, by, at, summary, undoes, redoes}
let oldest = null; // the oldest version the map's history reaches, when known

section.hidden = false;
if (cfg.mode !== 'edit') {
  undoButton.remove();
  redoButton.remove();
}

function ago(at) {
  const seconds = Math.max(0, Date.now() / 1000 - Number(at || 0));
  if (seconds < 45) return 'just now';
  if (seconds < 90 * 60) return Math.round(seconds / 60) + ' min ago';
  return new Date(Number(at) * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function render() {
  stale = false;
  list.replaceChildren();
  const shown = changes.slice(-SHOWN).reverse();
  for (const change of shown) {
    const item = document.createElement('li');
    item.className = 'activity-item';
    const who = page.actorName(change.by);
    item.appendChild(textNode('span', 'activity-who' + (who === 'you' ? ' activity-you' : ''), who));
    item.appendChild(textNode('span', 'activity-what', String(change.summary || 'changed the map')));
    const when = textNode('time', 'activity-when', ago(change.at));
    when.dateTime = new Date(Number(change.at || 0) * 1000).toISOString();
    item.appendChild(when);
    list.appendChild(item);
  }
  if (!shown.length) list.appendChild(textNode('li', 'activity-empty', 'No changes yet.'));
  const mine = changes.filter((c) => page.actorName(c.by) === 'you');
  undoButton.disabled = !mine.length || page.replaying;
  redoButton.disabled = redoable(mine) === 0 || page.replaying;
}

// The person's undos not redone since their last ordinary change (the server's redo stack, as
// far as the kept activity shows it; Ctrl+Shift+Z asks the server whatever this says).
function redoable(mine) {
  let stack = 0;
  for (const c of mine) {
    if (c.undoes) stack += 1;
    else if (c.redoes) stack = Math.max(0, stack - 1);
    else stack = 0;
  }
  return stack;
}

function remember(change, version) {
  if (!change || typeof change !== 'object') return;
  const entry = Object.assign({}, change, { version: typeof change.version === 'number' ? change.version : version });
  changes = changes.filter((c) => c.first !== entry.first);
  changes.push(entry);
  if (changes.length > KEPT) changes = changes.slice(-KEPT);
  stale = true;
}
let stale = false; // changes remembered since the list was last drawn

page.on('snapshot', (state) => {
  changes = Array.isArray(state.activity) ? state.activity.slice(-KEPT) : [];
  changes.sort((a, b) => (a.first || 0) - (b.first || 0));
  // Fewer than the snapshot's 50: the map's whole history is here (replay from version 0).
  if (changes.length >= KEPT) oldest = Math.max(0, (changes[0].first || 1) - 1);
  else oldest = 0;
  render();
});
page.on('change', (event) => { if (event.change) remember(event.change, event.version); });
page.on('applied', () => { if (stale) render(); }); // once a batch of changes, not once a change
setInterval(render, 60 * 1000); // "just now" ages
render();

// ---------------------------------------------------------------- undo and redo

async function step(kind) {
  if (cfg.mode !== 'edit' || page.replaying) return;
  const result = await page.post('/' + kind, {});
  if (result.ok) return;
  const err = result.error;
  if (err.code === 'edit_conflict') {
    const who = (err.changes || []).map((c) => page.actorName(c.by)).filter((n) => n !== 'you');
    page.toast('Cannot ' + kind + ': ' + (who.length ? who.join(', ') + ' changed' : 'someone changed') +
      ' the same thing since.');
  } else if (result.status === 409) {
    page.toast(kind === 'undo' ? 'Nothing of yours to undo.' : 'Nothing to redo.');
  } else {
    page.toast('Cannot ' + kind + ': ' + String(err.message || err.code));
  }
}

undoButton.addEventListener('click', () => step('undo'));
redoButton.addEventListener('click', () => step('redo'));

// ---------------------------------------------------------------- history replay

const bar = byId('replay');
const range = byId('replay-range');
const status = byId('replay-status');
let fetchSeq = 0;
let fetchTimer = null;

function summaryAt(version) {
  const change = changes.find((c) => c.first <= version && version <= c.version);
  return change ? page.actorName(change.by) + ': ' + change.summary : '';
}

async function showVersion(version) {
  const seq = ++fetchSeq;
  status.textContent = 'Version ' + version + ' of ' + page.version + '…';
  let state = null;
  let message = '';
  try {
    const response = await fetch(cfg.prefix + '/state?at=' + version, { headers: { Accept: 'application/json' } });
    const body = await response.json();
    if (response.ok) state = body;
    else message = (body.error && body.error.message) || 'not available';
  } catch (err) {
    message = 'the server cannot be reached';
  }
  if (seq !== fetchSeq || !page.replaying) return;
  if (!state) {
    page.history.clear();
    status.textContent = 'Version ' + version + ': ' + message;
    return;
  }
  page.history.snapshot(state);
  const about = summaryAt(version);
  status.textContent = 'Version ' + version + ' of ' + page.version + ' (read-only)' + (about ? ' · ' + about : '');
}

function openReplay() {
  if (page.replaying || page.connState === 'gone') return;
  if (page.setTool) page.setTool(null);
  if (page.setEditable) page.setEditable(false);
  page.replaying = true;
  document.body.classList.add('replaying');
  for (const entry of page.layers.values()) map.removeLayer(entry.group);
  range.min = String(oldest == null ? 0 : oldest);
  range.max = String(page.version);
  range.value = String(page.version);
  bar.hidden = false;
  if (page.updateHelp) page.updateHelp();
  render();
  range.focus();
  showVersion(page.version);
}

function closeReplay() {
  if (!page.replaying) return;
  page.replaying = false;
  fetchSeq += 1;
  document.body.classList.remove('replaying');
  page.history.clear();
  for (const entry of page.layers.values()) if (entry.visible) entry.group.addTo(map);
  if (page.setEditable) page.setEditable(cfg.mode === 'edit');
  bar.hidden = true;
  if (page.updateHelp) page.updateHelp();
  render();
  byId('history-open').focus();
}

range.addEventListener('input', () => {
  clearTimeout(fetchTimer);
  fetchTimer = setTimeout(() => showVersion(Number(range.value)), 120);
});
byId('history-open').addEventListener('click', () => (page.replaying ? closeReplay() : openReplay()));
byId('replay-live').addEventListener('click', closeReplay);
page.on('applied', () => {
  if (!page.replaying) return;
  for (const entry of page.layers.values()) map.removeLayer(entry.group);
  const atEnd = range.value === range.max;
  range.max = String(page.version);
  if (atEnd) range.value = range.max;
});

// A snapshot while replaying redraws the live layers: keep them off the map until "live".
page.on('snapshot', () => {
  if (page.replaying) for (const entry of page.layers.values()) map.removeLayer(entry.group);
});

document.addEventListener('keydown', (event) => {
  const target = event.target;
  const typing = target instanceof HTMLElement && ['INPUT', 'TEXTAREA'].includes(target.tagName) && target !== range;
  if (event.key === 'Escape' && page.replaying) {
    event.preventDefault();
    closeReplay();
    return;
  }
  if (typing || event.altKey) return;
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && key === 'z') {
    event.preventDefault();
    step(event.shiftKey ? 'redo' : 'undo');
  } else if ((event.ctrlKey || event.metaKey) && key === 'y') {
    event.preventDefault();
    step('redo');
  } else if (key === 'h' && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    if (page.replaying) closeReplay();
    else openReplay();
  }
}, true);

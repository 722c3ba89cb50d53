/* mapsrv page: the people on this map. "Here now" lists who has the map open (the stream's
 * `presence` events: people and the agents watching it); the owner's Share links (make a new
 * edit link, turn it off, make a new view link: POST /m/<id>/links); the person's display name
 * (POST /name, asked once in edit mode); and what happens when the owner turns off the link this
 * page came through (the stream's `access` event): it says so and drops to view-only.
 * Every name is a person's or an agent's own text: set with textContent, never as HTML.
 */
import { page } from './map.js';

const { cfg, byId, textNode, copyText } = page;
const SHOWN = 12;
const SKIPPED = 'mapsrv:name-not-now';

// ---------------------------------------------------------------- here now

const section = byId('people');
const list = byId('people-list');

function initials(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

// One person with two tabs is one entry (their actor id); agents and viewers without our
// cookie are each their own.
function grouped(present) {
  const seen = new Map();
  for (const member of present) {
    const key = member.actor ? 'a:' + member.actor + ':' + member.role : 'm:' + member.id;
    if (!seen.has(key)) seen.set(key, member);
  }
  return Array.from(seen.values());
}

function entry(member) {
  const item = document.createElement('li');
  item.className = 'person person-' + (member.kind === 'agent' ? 'agent' : 'person');
  item.dataset.kind = member.kind === 'agent' ? 'agent' : 'person';
  item.dataset.role = String(member.role || 'viewer');
  const avatar = textNode('span', 'person-avatar', initials(member.name));
  avatar.style.backgroundColor = /^#[0-9a-f]{6}$/i.test(member.colour) ? member.colour : '#888888';
  avatar.setAttribute('aria-hidden', 'true');
  item.appendChild(avatar);
  item.appendChild(textNode('span', 'person-name', String(member.name || 'someone')));
  const you = cfg.actor && member.actor === cfg.actor;
  if (you) {
    item.classList.add('person-you');
    item.appendChild(textNode('span', 'person-you-tag', '(you)'));
  }
  item.appendChild(textNode('span', 'person-role', String(member.role || '')));
  if (you && cfg.mode === 'edit') {
    const rename = textNode('button', 'btn btn-small person-rename', 'Rename');
    rename.type = 'button';
    rename.addEventListener('click', () => askName(true));
    item.appendChild(rename);
  }
  return item;
}

const known = new Map(); // actor -> the member the last presence frame listed (name, colour)

page.on('presence', (data) => {
  const present = grouped(Array.isArray(data && data.present) ? data.present : []);
  known.clear();
  for (const member of present) if (member.actor) known.set(member.actor, member);
  redrawPointers();
  // The owner is asked for a name once someone else joins (alone, nobody needs it).
  if (cfg.role === 'owner' && present.some((m) => m.kind === 'person' && m.actor !== cfg.actor)) askOnce();
  const more = Math.max(0, Number(data && data.more) || 0) + Math.max(0, present.length - SHOWN);
  list.replaceChildren(...present.slice(0, SHOWN).map(entry));
  if (more) list.appendChild(textNode('li', 'person-more', '+' + more + ' more'));
  // Alone on the map, the list would only say "you": it shows once anyone else is here.
  const others = present.filter((m) => !(cfg.actor && m.actor === cfg.actor)).length + more;
  section.hidden = others < (cfg.actor ? 1 : 2);
});

// ---------------------------------------------------------------- your name

const form = byId('name-form');
const input = byId('name-input');
const nameError = byId('name-error');

function askName(again) {
  if (cfg.mode !== 'edit') return;
  input.value = cfg.name || cfg.suggestedName || '';
  nameError.hidden = true;
  form.hidden = false;
  if (again) input.focus();
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  let response = null;
  let body = null;
  try {
    response = await fetch('/name', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ name: input.value }),
    });
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (response && response.ok && body && typeof body.name === 'string') {
    cfg.name = body.name;
    form.hidden = true;
    page.toast('Others now see you as ' + body.name + ' (from your next change, and when you next open the map).');
    return;
  }
  const err = body && body.error;
  nameError.textContent = (err && err.message) || 'The name could not be saved; try again.';
  nameError.hidden = false;
});
byId('name-cancel').addEventListener('click', () => {
  form.hidden = true;
  try { window.localStorage.setItem(SKIPPED, '1'); } catch (err) { /* private mode: ask again */ }
});

// Asked once: an editor when they join, the owner when someone joins them; "Not now" is
// remembered by this browser. Renaming is always there (the Rename button on your entry).
let asked = false;
function askOnce() {
  let skipped = false;
  try { skipped = window.localStorage.getItem(SKIPPED) === '1'; } catch (err) { skipped = false; }
  if (asked || cfg.name || skipped) return;
  asked = true;
  askName(false);
}

if (cfg.role === 'editor') askOnce();
if (cfg.mode !== 'edit') form.remove();

// ---------------------------------------------------------------- the owner's links

const share = byId('share');
const editLink = byId('edit-link');

function showEditLink(url) {
  cfg.editUrl = url || '';
  const on = Boolean(cfg.editUrl);
  editLink.hidden = !on;
  if (on) {
    editLink.href = cfg.editUrl;
    editLink.textContent = new URL(cfg.editUrl, window.location.href).href;
  }
  byId('edit-off-note').hidden = on;
  byId('copy-edit').hidden = !on;
  byId('edit-off').hidden = !on;
  byId('edit-new').textContent = on ? 'New link' : 'Make an edit link';
}

async function relink(body, question) {
  if (!window.confirm(question)) return;
  const answer = await page.post('/links', body);
  if (!answer.ok) {
    page.toast((answer.error && answer.error.message) || 'The links could not be changed.');
    return;
  }
  showEditLink(answer.body.edit_url);
  const view = byId('view-link');
  cfg.viewUrl = answer.body.view_url;
  view.href = cfg.viewUrl;
  view.textContent = new URL(cfg.viewUrl, window.location.href).href;
  page.toast('Done: the old link no longer works.');
}

if (share && cfg.role === 'owner') {
  share.hidden = false;
  showEditLink(cfg.editUrl);
  byId('copy-edit').addEventListener('click', () => copyText(byId('copy-edit'), editLink));
  byId('edit-new').addEventListener('click', () => relink({ edit: 'new' }, cfg.editUrl
    ? 'Make a new edit link? The current one stops working, and whoever has it open can only watch.'
    : 'Make an edit link? Anyone you give it to can edit this map.'));
  byId('edit-off').addEventListener('click', () => relink({ edit: 'off' },
    'Turn the edit link off? Whoever has it open can only watch from now on.'));
  byId('view-new').addEventListener('click', () => relink({ view: 'new' },
    'Make a new view link? The current one stops working for everyone watching through it.'));
} else if (share) {
  share.remove();
}

// ---------------------------------------------------------------- pointers and views

// Where each other person points (a dot with their name) and what they have in view (a dashed
// box): the stream's `pointers` events carry what changed (p: pointers, v: views, gone).
const { map } = page;
const SEND_MS = 500; // the server keeps at most one update per 100 ms; twice a second is plenty
const pointerLayer = L.layerGroup().addTo(map);
const pointers = new Map(); // actor -> {at, view, dot, box}

function colourOf(actor) {
  const member = known.get(actor);
  return member && /^#[0-9a-f]{6}$/i.test(member.colour) ? member.colour : '#495057';
}

function drawPointer(actor, entry) {
  if (entry.dot) pointerLayer.removeLayer(entry.dot);
  if (entry.box) pointerLayer.removeLayer(entry.box);
  entry.dot = entry.box = null;
  if (actor === cfg.actor || !known.has(actor)) return; // not yourself; not someone who left
  const colour = colourOf(actor);
  if (entry.at) {
    entry.dot = L.circleMarker(entry.at, {
      radius: 5, color: '#fff', weight: 2, fillColor: colour, fillOpacity: 1, interactive: false,
    }).bindTooltip(String(known.get(actor).name || ''), {
      permanent: true, direction: 'right', offset: [6, 0], className: 'mapsrv-pointer-name',
    });
    pointerLayer.addLayer(entry.dot);
  }
  if (entry.view) {
    entry.box = L.rectangle([[entry.view[0], entry.view[1]], [entry.view[2], entry.view[3]]], {
      color: colour, weight: 1.5, dashArray: '6 4', fill: false, interactive: false,
    });
    pointerLayer.addLayer(entry.box);
  }
}

function redrawPointers() {
  for (const [actor, entry] of pointers) drawPointer(actor, entry);
}

page.on('pointers', (data) => {
  if (!data) return;
  for (const [actor, lat, lon] of data.p || []) {
    const entry = pointers.get(actor) || {};
    entry.at = [lat, lon];
    pointers.set(actor, entry);
    drawPointer(actor, entry);
  }
  for (const [actor, south, west, north, east] of data.v || []) {
    const entry = pointers.get(actor) || {};
    entry.view = [south, west, north, east];
    pointers.set(actor, entry);
    drawPointer(actor, entry);
  }
  for (const actor of data.gone || []) {
    const entry = pointers.get(actor);
    if (entry) {
      entry.at = entry.view = null;
      drawPointer(actor, entry);
      pointers.delete(actor);
    }
  }
});

// This person's, for the others: only a person who edits (a viewer has no name to show).
let sentAt = 0;
let pending = null;
let timer = null;
let sharing = true;

function round(n) { return Math.round(n * 1e5) / 1e5; }

function viewNow() {
  const b = map.getBounds();
  return [[round(b.getSouth()), round(b.getWest())], [round(b.getNorth()), round(b.getEast())]];
}

function send() {
  timer = null;
  if (!pending || !sharing || cfg.mode !== 'edit') return;
  const body = pending;
  pending = null;
  sentAt = Date.now();
  fetch(cfg.prefix + '/pointer', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  }).then((r) => { if (r.status === 403 || r.status === 404) sharing = false; }).catch(() => {});
}

let lastAt = null;

function queue(at) {
  if (cfg.mode !== 'edit' || !cfg.actor) return;
  lastAt = at;
  pending = { at: at, view: viewNow() };
  if (!timer) timer = setTimeout(send, Math.max(0, SEND_MS - (Date.now() - sentAt)));
}

map.on('mousemove', (e) => queue([round(e.latlng.lat), round(e.latlng.lng)]));
map.on('mouseout', () => queue(null));
map.on('moveend', () => queue(lastAt)); // the view moved (a drag, a zoom, the keyboard)

// ---------------------------------------------------------------- losing the right to edit

const note = byId('access-note');
page.on('access', (data) => {
  const message = String((data && data.message) || 'This link no longer opens the map.');
  note.textContent = message.charAt(0).toUpperCase() + message.slice(1) + '.';
  note.hidden = false;
  page.toast(note.textContent);
  cfg.mode = 'view';
  if (page.setEditable) page.setEditable(false);
  for (const id of ['toolbar', 'edit-tools', 'import-open']) {
    const el = byId(id);
    if (el) el.hidden = true;
  }
  if (form) form.hidden = true;
  if (data && data.gone === true) { // deleted by its owner: it is not coming back
    page.markGone('deleted');
    return;
  }
  const view = data && typeof data.view_url === 'string' && data.view_url.startsWith('/v/') ? data.view_url : '';
  if (data && data.role === 'viewer' && view) {
    setTimeout(() => window.location.replace(view), 1500); // keep watching, read-only
  }
});

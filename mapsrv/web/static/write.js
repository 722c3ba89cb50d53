/* mapsrv page: how a person's edits reach the server (edit link only). Every write goes to
 * POST /m/<id>/ops with the version the page had when the edit began (`base_version`), so an
 * edit that crosses someone else's change to the same feature comes back as a conflict the
 * person decides on, never as a silent overwrite. Also the page's short messages (the toast).
 */
import { page } from './map.js';

const { cfg, byId, textNode } = page;
const editor = byId('editor');

// ---------------------------------------------------------------- messages

const toastEl = byId('toast');
let toastTimer = null;

page.toast = function (text) {
  toastEl.textContent = text;
  toastEl.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toastEl.hidden = true; }, 5000);
};

page.actorName = function (by) {
  if (!by) return 'someone';
  if (cfg.actor && by.id === cfg.actor) return 'you';
  return String(by.name || by.id || 'someone');
};

function errorOf(body, status) {
  // {"error": {"code", "message", ...}} (the house's shape); a bare {"error": "code", ...} too.
  const err = body && body.error;
  if (err && typeof err === 'object') return err;
  if (typeof err === 'string') return Object.assign({ code: err }, body);
  return { code: 'http', message: 'the server answered ' + status };
}

page.post = async function (path, body) {
  let response;
  try {
    response = await fetch(cfg.prefix + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body || {}),
    });
  } catch (err) {
    return { ok: false, status: 0, error: { code: 'network', message: 'the server cannot be reached' } };
  }
  let json = null;
  try { json = await response.json(); } catch (err) { json = null; }
  if (response.ok) return { ok: true, status: response.status, body: json };
  if (response.status === 404 || response.status === 410) {
    page.isGone().then((gone) => { if (gone) page.markGone(gone); });
  }
  return { ok: false, status: response.status, error: errorOf(json, response.status) };
};

// ---------------------------------------------------------------- writes and conflicts

const conflictEl = byId('conflict');
let decide = null; // resolves the open conflict: true when the person's change was applied

// What the person's ops would have done, in a few words.
function describeOps(ops) {
  const parts = [];
  for (const op of ops) {
    if (op.op === 'remove_features') parts.push('delete it');
    if (op.op !== 'update_feature') continue;
    if (op.coords) parts.push('move it');
    if (typeof op.label === 'string') parts.push('label it “' + op.label + '”');
    if (typeof op.popup === 'string' && !op.coords) parts.push('set its text to “' + op.popup.slice(0, 80) + '”');
  }
  return parts.length ? 'Yours would ' + parts.join(', ') + '.' : '';
}

function showConflict(ops, error) {
  editor.hidden = true;
  byId('conflict-text').textContent =
    'Your change was not applied, because this changed since you started editing it:';
  const list = byId('conflict-list');
  list.replaceChildren();
  for (const change of error.changes || []) {
    let who = page.actorName(change.by);
    if (who === 'you') who = 'you, in another tab or window';
    list.appendChild(textNode('li', '', who + ': ' + String(change.summary || 'a change')));
  }
  if (!list.children.length) list.appendChild(textNode('li', '', String(error.message || 'someone else changed it')));
  const mine = describeOps(ops);
  if (mine) list.appendChild(textNode('li', 'conflict-mine', mine));
  conflictEl.hidden = false;
  byId('conflict-mine').focus();
  return new Promise((resolve) => { decide = resolve; }).then(async (applyMine) => {
    if (!applyMine) {
      page.toast('Kept the other change; yours was not applied.');
      return false;
    }
    // Based on the version that refused it: a change after that one conflicts again.
    return page.write(ops, typeof error.current_version === 'number' ? error.current_version : page.version);
  });
}

function settle(applyMine) {
  conflictEl.hidden = true;
  const resolve = decide;
  decide = null;
  if (resolve) resolve(applyMine);
}

byId('conflict-mine').addEventListener('click', () => settle(true));
byId('conflict-theirs').addEventListener('click', () => settle(false));

// The version of this page's own last write of each feature. The answer to a write comes
// before its event does: without this, a second drag or arrow-key nudge of the same marker,
// based on what the page has drawn, would conflict with the page's own first one.
const writtenAt = new Map();

function touched(ops) {
  const ids = [];
  for (const op of ops) {
    if (op.op === 'update_feature' || op.op === 'add_feature') ids.push(op.id);
    if (op.op === 'remove_features') ids.push(...op.ids);
  }
  return ids;
}

/** Sends ops based on `base` (a version); resolves to the new version once they were applied
 * (after the person chose to apply theirs, when they conflicted), else to false. */
page.write = async function (ops, base) {
  const ids = touched(ops);
  // Nobody else touched these since our own write of them (it would have conflicted): a
  // base of that write's version loses nothing.
  const ours = ids.length ? Math.min(...ids.map((id) => writtenAt.get(id) ?? -1)) : -1;
  if (typeof base === 'number' && ours > base) base = ours;
  const body = { ops: ops };
  if (typeof base === 'number' && base >= 0) body.base_version = base;
  const result = await page.post('/ops', body);
  if (result.ok) {
    const version = result.body && result.body.version;
    for (const id of ids) writtenAt.set(id, version);
    return version || true;
  }
  if (result.status === 409 && result.error.code === 'edit_conflict') return showConflict(ops, result.error);
  page.toast('Not saved: ' + String(result.error.message || result.error.code));
  return false;
};

page.newId = function (prefix) {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  return prefix + '-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
};

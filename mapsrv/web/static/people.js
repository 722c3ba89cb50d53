/* mapsrv page: the people on this map. "Here now" lists who has the map open (the stream's
 * `presence` events: people and the agents watching it); the owner's Share links (make a new
 * edit link, turn it off, make a new view link: POST /m/<id>/links); the person's display name
 * (POST /name, asked once in edit mode); and what happens when the owner turns off the link this
 * page came through (the stream's `access` event): it says so and drops to view-only.
 * Every name is a person's or an agent's own text: set with textContent, never as HTML.
 */
(function () {
  'use strict';

  const page = window.mapsrvPage;
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

  page.on('presence', (data) => {
    const present = grouped(Array.isArray(data && data.present) ? data.present : []);
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
    const view = data && typeof data.view_url === 'string' && data.view_url.startsWith('/v/') ? data.view_url : '';
    if (data && data.role === 'viewer' && view) {
      setTimeout(() => window.location.replace(view), 1500); // keep watching, read-only
    }
  });
})();

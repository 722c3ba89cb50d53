/* mapsrv: the search box for places and addresses, on the page (places.js) and in the MCP App
 * (app.js, loaded when it first follows a map). It asks the server's one resolver
 * (GET <map>/places, mapsrv.web.places), flies the map to the place picked and marks it for a
 * while, with an "Add marker here" button where the page may write.
 *
 * An ARIA 1.2 combobox with a listbox popup: typing searches after a pause (and Enter at once);
 * the first result is the active one, Up and Down move, Enter picks, Escape closes the list and
 * gives the focus back. "/" focuses the box from anywhere but another field. Everything a result
 * says reaches the DOM as text.
 */
import { textNode } from './dom.js';

const PAUSE_MS = 250;
const MIN_CHARS = 2;
const MAX_CHARS = 200; // the server's limit (mapsrv.web.places.MAX_QUERY)
const NEAR_FROM_ZOOM = 5; // below this the map's centre says little about what the person means
const ZOOMS = { address: 17, poi: 16, street: 16, area: 16, place: 13, city: 12, state: 6, country: 5 };

let made = 0; // ids for each box's listbox and options

/** Builds a search box for `map`. Options: `where()` is the map's URL prefix (`/m/<id>`, or the
 * app's absolute view link; null while there is none), `addMarker(place)` writes a marker (absent:
 * no button), `padding` keeps a fitted place clear of what floats over the map. Answers
 * `{ element, focus }`: the caller puts `element` where it belongs. */
export function createPlaceSearch(map, options) {
  const n = ++made;
  const form = el('form', 'mapsrv-search');
  form.setAttribute('role', 'search');
  const input = el('input', 'mapsrv-search-input');
  const list = el('ul', 'mapsrv-search-list');
  const status = el('p', 'mapsrv-search-status');
  list.id = 'mapsrv-search-list-' + n;
  Object.assign(input, { type: 'text', placeholder: 'Search places and addresses', autocomplete: 'off', spellcheck: false, maxLength: MAX_CHARS });
  for (const [name, value] of [
    ['role', 'combobox'], ['aria-label', 'Search places and addresses'], ['aria-autocomplete', 'list'],
    ['aria-expanded', 'false'], ['aria-controls', list.id], ['aria-keyshortcuts', '/'],
  ]) input.setAttribute(name, value);
  list.setAttribute('role', 'listbox');
  list.setAttribute('aria-label', 'Places found');
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  list.hidden = true;
  status.hidden = true;
  form.append(input, list, status);

  let results = []; // the places the list shows
  let active = -1;
  let shownFor = null; // the text `results` answer
  let timer = null;
  let asked = 0; // the latest request's number: older answers are dropped
  let inflight = null; // its AbortController
  let pickWhenShown = false; // Enter came before the answer
  let returnTo = null; // what had the focus before "/"
  let mark = null; // the highlight of the place picked

  function say(text) {
    status.textContent = text || '';
    status.hidden = !text;
  }

  function setOpen(open) {
    list.hidden = !open;
    input.setAttribute('aria-expanded', String(open));
    if (!open) setActive(-1);
  }

  function setActive(i) {
    active = i;
    list.querySelectorAll('[role="option"]').forEach((option, j) => option.setAttribute('aria-selected', String(j === i)));
    if (i < 0) { input.removeAttribute('aria-activedescendant'); return; }
    const option = list.children[i];
    input.setAttribute('aria-activedescendant', option.id);
    option.scrollIntoView({ block: 'nearest' });
  }

  function show(places, text) {
    results = places;
    shownFor = text;
    list.replaceChildren(...places.map((place, i) => {
      const option = el('li', 'mapsrv-search-option');
      option.id = list.id + '-' + i;
      option.setAttribute('role', 'option');
      option.append(textNode('span', 'mapsrv-search-name', place.name), textNode('span', 'mapsrv-search-where', where(place)));
      option.addEventListener('mousedown', (event) => event.preventDefault()); // the box keeps the focus
      option.addEventListener('click', () => pick(i));
      return option;
    }));
    setOpen(places.length > 0);
    if (places.length) setActive(0);
  }

  async function search(text) {
    clearTimeout(timer);
    const prefix = options.where();
    if (!prefix) return;
    const number = ++asked;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const params = new URLSearchParams({ q: text, limit: '8' });
    if (map.getZoom() >= NEAR_FROM_ZOOM) {
      const c = map.getCenter().wrap();
      params.set('near', c.lat.toFixed(4) + ',' + c.lng.toFixed(4));
    }
    let answer;
    try {
      const response = await fetch(prefix + '/places?' + params, { headers: { Accept: 'application/json' }, signal: inflight.signal });
      answer = { ok: response.ok, status: response.status, body: await response.json().catch(() => null) };
    } catch (err) {
      if (number === asked) answer = { ok: false, status: 0, body: null };
    }
    if (number !== asked || !answer) return;
    inflight = null;
    if (!answer.ok) {
      const error = (answer.body && answer.body.error) || {};
      show([], text);
      say(answer.status === 0 ? 'Search: the server cannot be reached.'
        : 'Search: ' + String(error.message || 'the server answered ' + answer.status));
      pickWhenShown = false;
      return;
    }
    const places = answer.body && Array.isArray(answer.body.places) ? answer.body.places : [];
    show(places, text);
    const closest = answer.body && Array.isArray(answer.body.suggestions) ? answer.body.suggestions.slice(0, 3) : [];
    const partial = answer.body && typeof answer.body.unavailable === 'string' ? ' (Search: ' + answer.body.unavailable + ')' : '';
    say((places.length ? places.length + (places.length === 1 ? ' place' : ' places') + ' found'
      : 'No place matches “' + text + '”' + (closest.length ? '. Closest names: ' + closest.join(', ') : '')) + partial);
    if (places.length && pickWhenShown) pick(0);
    pickWhenShown = false;
  }

  function pick(i) {
    const place = results[i];
    if (!place) return;
    setOpen(false);
    say('');
    input.value = place.name;
    shownFor = null;
    flyTo(place);
  }

  function flyTo(place) {
    const at = [place.lat, place.lon];
    if (Array.isArray(place.bounds)) {
      map.flyToBounds(place.bounds, { padding: options.padding || [40, 40], maxZoom: ZOOMS[place.kind] || 15, duration: 0.8 });
    } else {
      map.flyTo(at, ZOOMS[place.kind] || 15, { duration: 0.8 });
    }
    highlight(place, at);
  }

  function highlight(place, at) {
    clearMark();
    const content = el('div', 'mapsrv-search-found');
    content.append(textNode('strong', 'mapsrv-search-found-name', place.name), textNode('span', 'mapsrv-search-where', where(place)));
    let add = null;
    if (options.addMarker) {
      add = textNode('button', 'mapsrv-search-add', 'Add marker here');
      add.type = 'button';
      add.addEventListener('click', async () => {
        add.disabled = true;
        if (await options.addMarker(place)) clearMark();
        else add.disabled = false;
      });
      content.append(add);
    }
    const ring = L.circleMarker(at, { radius: 14, className: 'mapsrv-search-mark', interactive: false });
    const popup = L.popup({ autoPan: false, className: 'mapsrv-search-popup', offset: [0, -10] }).setLatLng(at).setContent(content);
    mark = L.layerGroup([ring]).addTo(map);
    mark.popup = popup;
    popup.on('remove', () => {
      // Closed from inside (Escape, or the marker added): the focus comes back to the box.
      if (content.contains(document.activeElement) || document.activeElement === document.body) input.focus();
      if (mark && mark.popup === popup) clearMark();
    });
    map.openPopup(popup);
    if (add) add.focus({ preventScroll: true });
  }

  function clearMark() {
    if (!mark) return;
    const old = mark;
    mark = null;
    map.removeLayer(old);
    map.closePopup(old.popup);
  }

  function giveBackFocus() {
    const target = returnTo && document.contains(returnTo) ? returnTo : map.getContainer();
    returnTo = null;
    target.focus({ preventScroll: true });
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    pickWhenShown = false;
    const text = input.value.trim();
    if (text.length < MIN_CHARS) {
      asked++;
      setOpen(false);
      say('');
      return;
    }
    timer = setTimeout(() => search(text), PAUSE_MS);
  });

  input.addEventListener('keydown', (event) => {
    const open = !list.hidden;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (!results.length) return;
      event.preventDefault();
      if (!open) { setOpen(true); setActive(0); return; }
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setActive((active + step + results.length) % results.length);
    } else if (event.key === 'Enter') {
      event.preventDefault();
      const text = input.value.trim();
      if (open && active >= 0 && shownFor === text) pick(active);
      else if (text.length >= MIN_CHARS) { pickWhenShown = true; search(text); }
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      clearTimeout(timer);
      pickWhenShown = false;
      setOpen(false);
      say('');
      giveBackFocus();
    }
  });
  form.addEventListener('submit', (event) => event.preventDefault());
  form.addEventListener('focusout', (event) => {
    if (!form.contains(event.relatedTarget)) { setOpen(false); say(''); }
  });

  document.addEventListener('keydown', (event) => {
    if (event.key !== '/' || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
    if (!form.isConnected || form.closest('[hidden]')) return;
    event.preventDefault();
    returnTo = document.activeElement;
    input.focus();
    input.select();
  });

  return { element: form, focus: () => input.focus() };
}

/** Where a place is, in a few words: what its label adds to its name, and what it is. */
function where(place) {
  const label = String(place.label || '');
  const name = String(place.name || '');
  const rest = label.startsWith(name + ', ') ? label.slice(name.length + 2) : (label === name ? '' : label);
  const what = place.category ? String(place.category).split('=').pop().replace(/_/g, ' ') : String(place.kind || '');
  return [rest, what].filter(Boolean).join(' · ');
}

function el(tag, className) {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

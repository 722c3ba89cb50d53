/* mapsrv: the legend of a map's styles by value (issue 45), on the page and in the MCP App: a
 * control at the bottom right (above the attribution) listing every visible styled layer, its
 * name and property, each class's colour and range or each category, a proportional layer's
 * circles with their values, a heatmap's gradient; and, for a layer whose style has a time window,
 * a slider for this viewer's own window over the layer's times (timeslider.js). Collapsible with
 * its button; everything in it is text (textContent) and colours go through the CSSOM, so no
 * layer name or category becomes markup.
 */

import { textNode } from './dom.js';
import { HEAT_GRADIENT, numberOf } from './style.js';
import { layerTimes, timeSlider } from './timeslider.js';

let ids = 0;

export function formatNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  const digits = Math.abs(v) >= 100 || Number.isInteger(v) ? 0 : Math.abs(v) >= 1 ? 2 : 4;
  return v.toLocaleString('en-US', { maximumFractionDigits: digits });
}

// 2 significant digits: the values the proportional circles show.
function roundNice(v) {
  if (!(v > 0)) return v;
  const p = Math.pow(10, Math.floor(Math.log10(v)) - 1);
  return Math.round(v / p) * p;
}

function swatch(color, className) {
  const el = document.createElement('span');
  el.className = className || 'mapsrv-legend-swatch';
  el.style.backgroundColor = color; // the CSSOM drops what is not a colour
  el.setAttribute('aria-hidden', 'true');
  return el;
}

function row(color, text) {
  const li = document.createElement('li');
  li.className = 'mapsrv-legend-row';
  li.append(swatch(color), textNode('span', 'mapsrv-legend-value', text));
  return li;
}

function classes(style) {
  const raw = style.raw;
  const list = document.createElement('ul');
  list.className = 'mapsrv-legend-classes';
  if (raw.kind === 'graduated' && Array.isArray(raw.breaks) && Array.isArray(raw.colors)) {
    for (let i = 0; i + 1 < raw.breaks.length && i < raw.colors.length; i += 1) {
      list.append(row(raw.colors[i], formatNumber(Number(raw.breaks[i])) + ' – ' + formatNumber(Number(raw.breaks[i + 1]))));
    }
  } else if (raw.kind === 'categorical') {
    for (const [value, color] of Object.entries(raw.categories || {})) list.append(row(String(color), value));
    if (typeof raw.other === 'string') list.append(row(raw.other, 'Other'));
  } else if (raw.kind === 'proportional') {
    list.classList.add('mapsrv-legend-sizes');
    const top = numberOf(raw.max_value);
    const values = top > 0 ? [top, roundNice(top / 4), roundNice(top / 16)] : [];
    for (const v of values) {
      const r = style.radiusOf({ [raw.by]: v });
      const li = document.createElement('li');
      li.className = 'mapsrv-legend-row';
      const circle = swatch(typeof raw.color === 'string' ? raw.color : '#3182bd', 'mapsrv-legend-circle');
      circle.style.width = circle.style.height = Math.round(2 * r) + 'px';
      const box = document.createElement('span');
      box.className = 'mapsrv-legend-circle-box';
      box.style.width = Math.round(2 * style.radiusOf({ [raw.by]: top })) + 'px';
      box.append(circle);
      li.append(box, textNode('span', 'mapsrv-legend-value', formatNumber(v)));
      list.append(li);
    }
  } else if (raw.kind === 'heatmap') {
    const li = document.createElement('li');
    li.className = 'mapsrv-legend-heat';
    const bar = document.createElement('span');
    bar.className = 'mapsrv-legend-gradient';
    bar.style.backgroundImage = 'linear-gradient(to right, ' + HEAT_GRADIENT.map(([at, c]) => c + ' ' + Math.round(at * 100) + '%').join(', ') + ')';
    li.append(textNode('span', 'mapsrv-legend-value', 'fewer'), bar, textNode('span', 'mapsrv-legend-value', 'more'));
    list.append(li);
  }
  return list;
}

function filterText(filter) {
  if (!filter || typeof filter !== 'object' || typeof filter.property !== 'string') return null;
  const value = Array.isArray(filter.value) ? filter.value.join(', ') : String(filter.value);
  return 'Only ' + filter.property + ' ' + (filter.op || '==') + ' ' + value;
}

export function createLegend(view) {
  const { map } = view;
  const box = document.createElement('section');
  box.className = 'mapsrv-legend leaflet-control';
  box.setAttribute('aria-label', 'Legend');
  const bodyId = 'mapsrv-legend-' + (ids += 1);
  const toggle = textNode('button', 'mapsrv-legend-toggle', 'Legend');
  toggle.type = 'button';
  toggle.setAttribute('aria-expanded', 'true');
  toggle.setAttribute('aria-controls', bodyId);
  const body = document.createElement('div');
  body.className = 'mapsrv-legend-body';
  body.id = bodyId;
  box.append(toggle, body);
  toggle.addEventListener('click', () => {
    const open = body.hidden;
    body.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    box.classList.toggle('mapsrv-legend-collapsed', !open);
  });
  L.DomEvent.disableClickPropagation(box);
  L.DomEvent.disableScrollPropagation(box);
  box.hidden = true;
  const Control = L.Control.extend({ options: { position: 'bottomright' }, onAdd: () => box });
  new Control().addTo(map); // bottom controls go first in their corner: above the attribution

  // Each time-windowed layer's times (the slider's steps), computed again when the layer's style
  // or the map's number of features changed, or the legend is asked to (reading 100,000 features'
  // times after every event would cost each event tens of ms).
  const known = new Map(); // layer id -> {key, times}
  function timesOf(entry, force) {
    const key = entry.styleKey + ' ' + view.features.size;
    const was = known.get(entry.id);
    if (was && was.key === key && !force) return was.times;
    const times = layerTimes(view, entry);
    known.set(entry.id, { key: key, times: times });
    return times;
  }

  let key = null;
  // Drawn again when what it shows changed; a slider being dragged is left alone.
  function update(force) {
    const shown = [];
    for (const entry of view.layers.values()) {
      if (!entry.visible || !entry.style) continue;
      shown.push([entry, entry.style.time ? timesOf(entry, force) : null]);
    }
    const ends = (times) => (times ? [times.length, times[0], times[times.length - 1]] : null);
    const next = JSON.stringify(shown.map(([entry, times]) => [entry.id, entry.name, entry.styleKey, ends(times)]));
    if (next === key) return;
    key = next;
    const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.id : null;
    body.replaceChildren();
    for (const [entry, times] of shown) {
      const raw = entry.style.raw;
      const section = document.createElement('div');
      section.className = 'mapsrv-legend-layer';
      section.dataset.layer = entry.id;
      section.append(textNode('div', 'mapsrv-legend-name', entry.name));
      const by = raw.kind === 'heatmap' ? raw.weight : raw.by;
      if (typeof by === 'string' && by) section.append(textNode('div', 'mapsrv-legend-by', by));
      section.append(classes(entry.style));
      const only = filterText(raw.filter);
      if (only) section.append(textNode('div', 'mapsrv-legend-filter', only));
      if (times && times.length) {
        section.append(timeSlider(view, entry, times, bodyId + '-' + entry.id.replace(/[^\w-]/g, '_')));
      } else if (times) {
        section.append(textNode('div', 'mapsrv-legend-filter', 'No times in ' + entry.style.time.property));
      }
      body.append(section);
    }
    box.hidden = shown.length === 0;
    if (focused) {
      const el = document.getElementById(focused);
      if (el) el.focus();
    }
  }

  return { update: update, element: box };
}

/* mapsrv: the legend of a map's styles by value (issue 45), on the page and in the MCP App: a
 * control at the bottom right (above the attribution) listing every visible styled layer, its
 * name and property, each class's colour and range or each category with how many features it
 * has (and the others'), a proportional layer's circles at the map's own scale with round values
 * from the data, a heatmap's labelled ramp and what it counts; and, for a layer whose style has a
 * time window, a slider for this viewer's own window over the layer's times (timeslider.js).
 * Collapsible with its button; everything in it is text (textContent) and colours go through the
 * CSSOM, so no layer name or category becomes markup.
 */

import { textNode } from './dom.js';
import { formatNumber } from './numbers.js';
import { HEAT_GRADIENT, classOf, fieldOf, numberOf, propsAt } from './style.js';
import { layerTimes, timeSlider } from './timeslider.js';

let ids = 0;

const countText = (n) => formatNumber(n);

function swatch(color, className) {
  const el = document.createElement('span');
  el.className = className || 'mapsrv-legend-swatch';
  el.style.backgroundColor = color; // the CSSOM drops what is not a colour
  el.setAttribute('aria-hidden', 'true');
  return el;
}

// One class or category: its colour, what it holds, and how many of the layer's shown features
// it has (as `read` counts them: mapsrv/core/style_rules.py style_counts).
function row(color, text, count) {
  const li = document.createElement('li');
  li.className = 'mapsrv-legend-row';
  li.append(swatch(color), textNode('span', 'mapsrv-legend-value', text));
  if (count !== undefined) li.append(textNode('span', 'mapsrv-legend-count', countText(count)));
  return li;
}

// A class's range: "6,223 – 15,390"; a class of one value (the lowest, or few distinct values) that
// value alone.
function rangeText(from, to, spec) {
  return from === to ? formatNumber(from, spec) : formatNumber(from, spec) + ' – ' + formatNumber(to, spec);
}

// How many of the layer's features each class (or category) has now, among those its filter and
// this viewer's time window show: {classes: [n per class], other, shown}.
export function legendCounts(view, entry) {
  const style = entry.style;
  const raw = style.raw;
  const by = typeof raw.by === 'string' ? raw.by : null;
  const breaks = raw.kind === 'graduated' && Array.isArray(raw.breaks) ? raw.breaks.map(Number) : null;
  const names = raw.kind === 'categorical' ? Object.keys(raw.categories || {}) : [];
  const index = new Map(names.map((name, i) => [name, i]));
  const out = { classes: new Array(breaks ? Math.max(0, breaks.length - 1) : names.length).fill(0), other: 0, shown: 0 };
  for (const fe of view.features.values()) {
    if (fe.layerId !== entry.id) continue;
    const f = fe.data;
    if (!style.shows(f, entry.win)) continue;
    out.shown += 1;
    const p = propsAt(f, entry.win); // a place's row at the time shown
    const value = by === null ? undefined : p[by];
    if (breaks) {
      const v = numberOf(value);
      const i = v === null ? null : classOf(v, breaks);
      if (i === null) out.other += 1;
      else out.classes[i] += 1;
    } else if (raw.kind === 'categorical') {
      const i = value === undefined || value === null ? undefined : index.get(textOfValue(value));
      if (i === undefined) out.other += 1;
      else out.classes[i] += 1;
    } else if (raw.kind === 'proportional' && numberOf(value) === null) {
      out.other += 1;
    }
  }
  return out;
}

// A category's text, as the server's text_of writes a value (true, 12, "a, b").
function textOfValue(value) {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return value.map(textOfValue).join(', ');
  return String(value);
}

// A proportional layer's circles at the map's own scale: each reference value (round values from
// the data, which the server chose: the style's legend_values) drawn at the radius the map draws
// a feature of that value, in px.
function circles(style, counts) {
  const raw = style.raw;
  const list = document.createElement('ul');
  list.className = 'mapsrv-legend-classes mapsrv-legend-sizes';
  const top = numberOf(raw.max_value);
  const values = (Array.isArray(raw.legend_values) ? raw.legend_values.map(numberOf).filter((v) => v !== null && v > 0) : [])
    .sort((a, b) => b - a);
  if (!values.length && top > 0) values.push(top);
  const widest = values.length ? 2 * style.radiusOf({ [raw.by]: values[0] }) : 0;
  for (const v of values) {
    const r = style.radiusOf({ [raw.by]: v });
    const li = document.createElement('li');
    li.className = 'mapsrv-legend-row';
    const circle = swatch(raw.color_by ? SIZE_ONLY : typeof raw.color === 'string' ? raw.color : '#3182bd', 'mapsrv-legend-circle');
    circle.style.width = circle.style.height = 2 * r + 'px';
    circle.dataset.value = String(v);
    const box = document.createElement('span');
    box.className = 'mapsrv-legend-circle-box';
    box.style.width = Math.ceil(widest) + 'px';
    box.append(circle);
    li.append(box, textNode('span', 'mapsrv-legend-value', formatNumber(v, legendSpec(raw))));
    list.append(li);
  }
  const total = document.createElement('li');
  total.className = 'mapsrv-legend-row mapsrv-legend-total';
  total.append(textNode('span', 'mapsrv-legend-value', countText(counts.shown - counts.other) + ' sized'));
  list.append(total);
  if (counts.other) list.append(row(typeof raw.other === 'string' ? raw.other : '#999999', 'no number', counts.other));
  if (typeof raw.color_by === 'string') { // coloured by another property: its categories' colours
    list.append(textNode('li', 'mapsrv-legend-by', raw.color_by));
    Object.entries(raw.categories || {}).forEach(([value, color]) => list.append(row(String(color), value)));
    list.append(row(typeof raw.other === 'string' ? raw.other : '#999999', 'Other'));
  }
  return list;
}

// The heat ramp, its ends labelled: the fewest (or least weighted) points at the left, the most at
// the right, and how many points are drawn.
function heat(style, counts) {
  const raw = style.raw;
  const list = document.createElement('ul');
  list.className = 'mapsrv-legend-classes';
  const li = document.createElement('li');
  li.className = 'mapsrv-legend-heat';
  const bar = document.createElement('span');
  bar.className = 'mapsrv-legend-gradient';
  bar.style.backgroundImage = 'linear-gradient(to right, ' + HEAT_GRADIENT.map(([at, c]) => c + ' ' + Math.round(at * 100) + '%').join(', ') + ')';
  li.append(textNode('span', 'mapsrv-legend-value', 'low'), bar, textNode('span', 'mapsrv-legend-value', 'high'));
  list.append(li);
  const weight = typeof raw.weight === 'string' && raw.weight ? ', weighted by ' + raw.weight : '';
  const total = document.createElement('li');
  total.className = 'mapsrv-legend-row mapsrv-legend-total';
  total.append(textNode('span', 'mapsrv-legend-value', 'density of ' + countText(counts.shown) + ' features' + weight));
  list.append(total);
  return list;
}

// The legend's number format: the one the style's label template gives the property it is styled
// by ("{share:.1%}": 16.5 % – 25.9 %, as the labels), else none (core/style_rules.py legend_spec).
function legendSpec(raw) {
  if (typeof raw.by !== 'string' || typeof raw.label !== 'string') return '';
  for (const found of raw.label.matchAll(/\{([^{}]{1,64})\}/g)) {
    const [key, spec] = fieldOf(found[1]);
    if (key === raw.by && spec) return spec;
  }
  return '';
}

const SIZE_ONLY = '#9ca3af'; // a size's circle when the colours say another property

// A layer's rows: its kind's, then the heat ramp when a heat map is drawn under its points too.
function classes(style, counts) {
  const list = kindClasses(style, counts);
  if (style.raw.heat === true && style.raw.kind !== 'heatmap') list.append(...heat(style, counts).children);
  return list;
}

function kindClasses(style, counts) {
  const raw = style.raw;
  if (raw.kind === 'proportional') return circles(style, counts);
  if (raw.kind === 'heatmap') return heat(style, counts);
  const list = document.createElement('ul');
  list.className = 'mapsrv-legend-classes';
  const other = typeof raw.other === 'string' ? raw.other : '#999999';
  if (raw.kind === 'graduated' && Array.isArray(raw.breaks) && Array.isArray(raw.colors)) {
    for (let i = 0; i + 1 < raw.breaks.length && i < raw.colors.length; i += 1) {
      list.append(row(raw.colors[i], rangeText(Number(raw.breaks[i]), Number(raw.breaks[i + 1]), legendSpec(raw)), counts.classes[i]));
    }
    if (counts.other) list.append(row(other, 'no number', counts.other));
  } else if (raw.kind === 'categorical') {
    Object.entries(raw.categories || {}).forEach(([value, color], i) => list.append(row(String(color), value, counts.classes[i])));
    list.append(row(other, 'Other', counts.other));
  }
  return list;
}

function filterText(filter) {
  if (!filter || typeof filter !== 'object' || typeof filter.property !== 'string') return null;
  const value = Array.isArray(filter.value) ? filter.value.join(', ') : String(filter.value);
  return 'Only ' + filter.property + ' ' + (filter.op || '==') + ' ' + value;
}

// What a style's classes are over (core/style_rules.py's over_text says the same): "classes over
// 2007", "classes over all features"; null without a filter or time window.
function overText(raw) {
  if (raw.over !== 'shown' && raw.over !== 'all') return null;
  const what = raw.kind === 'proportional' ? 'sizes' : 'classes';
  if (raw.over === 'all') return what + ' over all features';
  const win = raw.time || {};
  const has = (v) => v !== undefined && v !== null;
  let when = '';
  if (has(win.from) && win.from === win.to) when = String(win.from);
  else if (has(win.from) && has(win.to)) when = win.from + ' to ' + win.to;
  else if (has(win.from)) when = 'from ' + win.from;
  else if (has(win.to)) when = 'to ' + win.to;
  const parts = [when, raw.filter ? "the filter's" : ''].filter((p) => p);
  return what + ' over ' + (parts.length ? parts.join(' and ') : 'those shown');
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

  // Each layer's counts, taken again when the map, the style or this viewer's window changed.
  const counted = new Map(); // layer id -> {key, counts}
  function countsOf(entry) {
    const key = view.version + ' ' + entry.styleKey + ' ' + JSON.stringify(entry.win);
    const known = counted.get(entry.id);
    if (known && known.key === key) return known.counts;
    const counts = legendCounts(view, entry);
    counted.set(entry.id, { key: key, counts: counts });
    return counts;
  }

  let key = null;
  let countedKey = null;
  const lists = new Map(); // layer id -> its list of classes, swapped alone when only counts change
  // Drawn again when what it shows changed; when only the counts did (this viewer's time window
  // moved, a feature came), each layer's list is swapped and its slider, maybe being dragged, kept.
  function update(force) {
    const shown = [];
    for (const entry of view.layers.values()) {
      if (!entry.visible || !entry.style) continue;
      shown.push([entry, entry.style.time ? timesOf(entry, force) : null, countsOf(entry)]);
    }
    const ends = (times) => (times ? [times.length, times[0], times[times.length - 1]] : null);
    const next = JSON.stringify(shown.map(([entry, times]) => [entry.id, entry.name, entry.styleKey, ends(times)]));
    const nextCounts = JSON.stringify(shown.map(([, , counts]) => counts));
    if (next === key) {
      if (nextCounts === countedKey) return;
      countedKey = nextCounts;
      for (const [entry, , counts] of shown) {
        const fresh = classes(entry.style, counts);
        lists.get(entry.id)?.replaceWith(fresh);
        lists.set(entry.id, fresh);
      }
      return;
    }
    key = next;
    countedKey = nextCounts;
    lists.clear();
    const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.id : null;
    body.replaceChildren();
    for (const [entry, times, counts] of shown) {
      const raw = entry.style.raw;
      const section = document.createElement('div');
      section.className = 'mapsrv-legend-layer';
      section.dataset.layer = entry.id;
      section.append(textNode('div', 'mapsrv-legend-name', entry.name));
      const by = raw.kind === 'heatmap' ? raw.weight : raw.by;
      if (typeof by === 'string' && by) section.append(textNode('div', 'mapsrv-legend-by', by));
      const list = classes(entry.style, counts);
      lists.set(entry.id, list);
      section.append(list);
      const only = filterText(raw.filter);
      if (only) section.append(textNode('div', 'mapsrv-legend-filter', only));
      const over = overText(raw);
      if (over) section.append(textNode('div', 'mapsrv-legend-filter mapsrv-legend-over', over));
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

/* mapsrv: the time slider of a layer whose style has a time window (legend.js shows it), this
 * viewer's own window. Its steps are the times the layer's features hold (years, dates or
 * instants: times.js), each reachable, the last one too: "From" and "To" are indices into them,
 * never a clock rounded to a step. Step back and forward move the window by one time keeping its
 * width; Play steps forward until the last time. What it shows is text (textContent).
 */

import { textNode } from './dom.js';
import { distinct, precisionOf, pushTimes, timeText } from './times.js';

const TICK_MS = 500; // between two steps of Play, for a few dozen times
const PLAY_MS = 30000; // Play runs through at most this long: more times, shorter ticks, then bigger steps
const MIN_TICK_MS = 60;

// The layer's distinct times, ascending (ms since 1970 UTC).
export function layerTimes(view, entry) {
  const all = [];
  const property = entry.style.time.property;
  for (const fe of view.features.values()) {
    if (fe.layerId === entry.id) pushTimes(fe.data.properties && fe.data.properties[property], all);
  }
  return distinct(all);
}

// The first index whose time is after `t` (or, `orAt`, at or after it); times.length when none is.
function firstAfter(times, t, orAt) {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] < t || (!orAt && times[mid] === t)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The slider for `entry` over `times` (at least one); `id` makes its inputs' ids.
export function timeSlider(view, entry, times, id) {
  const last = times.length - 1;
  const precision = precisionOf(times);
  const win = entry.win || [null, null];
  // the window's ends as indices: the first time at or after its start, the last at or before its end
  let from = win[0] === null ? 0 : Math.min(last, firstAfter(times, win[0], true));
  let to = win[1] === null ? last : Math.max(0, firstAfter(times, win[1], false) - 1);
  if (from > to) [from, to] = [to, from];

  const wrap = document.createElement('div');
  wrap.className = 'mapsrv-legend-time';
  wrap.dataset.steps = String(times.length);
  const inputs = [];
  const outputs = [];
  let frame = 0;
  let timer = 0;

  function show() {
    inputs[0].value = String(from);
    inputs[1].value = String(to);
    outputs[0].textContent = timeText(times[from], precision);
    outputs[1].textContent = timeText(times[to], precision);
    wrap.dataset.from = String(from);
    wrap.dataset.to = String(to);
  }
  function apply() {
    frame = 0;
    show();
    view.setTimeWindow(entry.id, times[from], times[to]);
  }
  function set(a, b) {
    [from, to] = a <= b ? [a, b] : [b, a];
    apply();
  }
  // One time on (or back), the window's width kept; the whole range steps to its first (last) time.
  function step(by) {
    if (from === 0 && to === last && last > 0) {
      const at = by > 0 ? 0 : last;
      set(at, at);
      return;
    }
    const move = by > 0 ? Math.min(by, last - to) : Math.max(by, -from);
    set(from + move, to + move);
  }

  ['From', 'To'].forEach((name, i) => {
    const inputId = id + '-' + name.toLowerCase();
    const label = textNode('label', 'mapsrv-legend-time-name', name);
    label.htmlFor = inputId;
    const input = document.createElement('input');
    input.type = 'range';
    input.id = inputId;
    input.className = 'mapsrv-legend-slider';
    input.dataset.end = name.toLowerCase();
    input.min = '0';
    input.max = String(last);
    input.step = '1';
    const output = textNode('output', 'mapsrv-legend-time-value', '');
    output.htmlFor = inputId;
    input.addEventListener('input', () => {
      const value = Number(input.value);
      [from, to] = i === 0 ? [value, to] : [from, value];
      if (from > to) [from, to] = [to, from];
      if (!frame) frame = requestAnimationFrame(apply);
    });
    inputs.push(input);
    outputs.push(output);
    wrap.append(label, input, output);
  });

  const buttons = document.createElement('div');
  buttons.className = 'mapsrv-legend-time-buttons';
  const button = (text, label, action) => {
    const b = textNode('button', 'mapsrv-legend-time-button', text);
    b.type = 'button';
    b.setAttribute('aria-label', label);
    b.addEventListener('click', action);
    buttons.append(b);
    return b;
  };
  const stop = () => {
    clearInterval(timer);
    timer = 0;
    play.textContent = 'Play';
    play.setAttribute('aria-pressed', 'false');
  };
  button('◀', 'Step back', () => { stop(); step(-1); });
  const play = button('Play', 'Play through the times', () => {
    if (timer) {
      stop();
      return;
    }
    if (to === last) set(0, to - from === last ? 0 : to - from); // from the start again
    const tick = Math.max(MIN_TICK_MS, Math.min(TICK_MS, PLAY_MS / times.length));
    const stride = Math.max(1, Math.ceil((times.length * tick) / PLAY_MS));
    play.textContent = 'Pause';
    play.setAttribute('aria-pressed', 'true');
    timer = setInterval(() => {
      if (!wrap.isConnected || to === last) {
        stop();
        return;
      }
      step(stride);
    }, tick);
  });
  play.setAttribute('aria-pressed', 'false');
  button('▶', 'Step forward', () => { stop(); step(1); });
  wrap.append(buttons);
  show();
  return wrap;
}

/* mapsrv: times as a style's time window reads them, in ms since 1970 UTC, by the grammar of
 * mapsrv/core/times.py to the millisecond (tests/core/test_times.py runs both on the same values),
 * so a feature at a window's end is inside it alike in the page, in map_image and in the counts:
 * a whole number from 1 to 9999 is a year, another number seconds (ms from 1e11 on); text is
 * 2007, 2007-06, 2007-06-30, then a time after T or a space, then Z or an offset (none: UTC).
 * Also what the time slider shows: a layer's distinct times, and each as text at the precision
 * they share (2007, 2007-06-30, 2007-06-30 20:20 UTC).
 */

const ISO = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?)?)?$/;
const MS_FROM = 1e11; // a number this large or larger is milliseconds
const FIRST = -62135596800000; // 0001-01-01T00:00Z: Python's datetime begins there
const LAST = 253402300799000; // 9999-12-31T23:59:59Z
const SPACE = /^[ \t\n\r]+|[ \t\n\r]+$/g; // what the server's strip(" \t\n\r") takes off

export function isYear(value) {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 9999;
}

// Date.UTC takes years 0-99 as 1900-1999: set the year apart. null for a day or time that is not.
function utc(y, mo, d, h, mi, s) {
  if (mo < 1 || mo > 12 || h > 23 || mi > 59 || s > 59) return null;
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  return t.getUTCMonth() === mo - 1 && t.getUTCDate() === d ? t.getTime() : null;
}

function offsetMs(zone) {
  if (!zone || zone === 'Z' || zone === 'z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const span = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0)) * 60000;
  return zone[0] === '+' ? span : -span;
}

// A time in ms since 1970 UTC, or null.
export function timeMs(value) {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    if (isYear(value)) return utc(value, 1, 1, 0, 0, 0);
    return Math.abs(value) < MS_FROM ? value * 1000 : value;
  }
  if (typeof value !== 'string' || value.length > 64) return null;
  const m = ISO.exec(value.replace(SPACE, ''));
  if (!m) return null;
  const n = (s, none) => (s === undefined ? none : Number(s));
  const day = utc(n(m[1]), n(m[2], 1), n(m[3], 1), n(m[4], 0), n(m[5], 0), n(m[6], 0));
  const offset = offsetMs(m[8]);
  if (day === null || Math.abs(offset) > 18 * 3600000) return null;
  const base = day - offset;
  if (base < FIRST || base > LAST) return null;
  return base + Number((m[7] || '').slice(0, 3).padEnd(3, '0'));
}

// Every time a value holds (a value, or a per-point list), pushed to `out`.
export function pushTimes(raw, out) {
  if (raw === undefined || raw === null) return;
  for (const v of [].concat(raw)) {
    const t = timeMs(v);
    if (t !== null) out.push(t);
  }
}

// Ascending and each once.
export function distinct(times) {
  const sorted = Float64Array.from(times).sort();
  const out = [];
  for (const t of sorted) if (!out.length || out[out.length - 1] !== t) out.push(t);
  return out;
}

const pad = (v, n) => String(v).padStart(n, '0');

// How precisely a list of times is written: 'year' (each a 1 January at 00:00), 'day' (each at
// 00:00), 'minute' or 'second' (UTC).
export function precisionOf(times) {
  let precision = 'year';
  for (const t of times) {
    const d = new Date(t);
    if (d.getUTCSeconds() || d.getUTCMilliseconds()) return 'second';
    if (d.getUTCHours() || d.getUTCMinutes()) precision = 'minute';
    else if (precision === 'year' && (d.getUTCMonth() || d.getUTCDate() !== 1)) precision = 'day';
  }
  return precision;
}

export function timeText(t, precision) {
  const d = new Date(t);
  const day = pad(d.getUTCFullYear(), 4) + '-' + pad(d.getUTCMonth() + 1, 2) + '-' + pad(d.getUTCDate(), 2);
  if (precision === 'year') return pad(d.getUTCFullYear(), 4);
  if (precision === 'day') return day;
  const minute = day + ' ' + pad(d.getUTCHours(), 2) + ':' + pad(d.getUTCMinutes(), 2);
  return (precision === 'second' ? minute + ':' + pad(d.getUTCSeconds(), 2) : minute) + ' UTC';
}

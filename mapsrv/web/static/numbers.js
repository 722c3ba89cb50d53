/* mapsrv: numbers as people read them, wherever the page prints a value (a label, a legend): the
 * page's one formatter, `formatNumber(value, spec)`, following the server's rules
 * (mapsrv/core/numbers.py format_number, which map_image and `read` use) to the character:
 *
 * - no spec: 4 significant digits, every whole digit kept, thousands separated: 6,873 (not
 *   6873.262326000001), 12.35, 0.01235, 1,234,567;
 * - a spec from a label template, `{gdp:,.0f}`: [+][,][.N][f|d|%] as in Python's format mini-language
 *   (`,` thousands separators, `.N` decimals for f and %, N significant digits alone; d a whole
 *   number; % times 100).
 *
 * Rounding is Python's: to the nearest, a value exactly halfway to the even digit.
 */

const SPEC = /^(\+)?(,)?(?:\.([0-9]{1,2}))?([fd%])?$/;
const SIGNIFICANT = 4;
const TINY = 1e-9;

// Whether `spec` is a format spec formatNumber knows.
export function isNumberSpec(spec) {
  const m = SPEC.exec(String(spec));
  return !!m && !(m[4] === 'd' && m[3] !== undefined);
}

// `value` with `decimals` digits after the point, rounded as Python rounds: from the value's exact
// decimal expansion (toFixed gives one to 100 digits), to the nearest, a tie to the even digit.
// (toFixed itself rounds a tie up, and `value * 10 ** decimals` may round onto a tie that the value
// is not.)
function fixed(value, decimals) {
  const size = Math.abs(value);
  if (!(size < 1e21)) return value.toFixed(decimals);
  const exact = size.toFixed(Math.min(100, decimals + 30));
  const dot = exact.indexOf('.');
  const digits = (exact.slice(0, dot) + exact.slice(dot + 1, dot + 1 + decimals)).split('').map(Number);
  const rest = exact.slice(dot + 1 + decimals);
  const tie = rest[0] === '5' && /^50*$/.test(rest);
  if (rest[0] > '5' || (rest[0] === '5' && (!tie || digits[digits.length - 1] % 2 === 1))) {
    let i = digits.length - 1;
    while (i >= 0 && digits[i] === 9) digits[i--] = 0;
    if (i < 0) digits.unshift(1);
    else digits[i] += 1;
  }
  const whole = digits.slice(0, digits.length - decimals).join('') || '0';
  const text = decimals ? whole + '.' + digits.slice(digits.length - decimals).join('') : whole;
  return (value < 0 || Object.is(value, -0) ? '-' : '') + text;
}

function significant(value, digits, whole) {
  if (value === 0) return '0';
  if (Math.abs(value) < TINY) {
    // as Python's '.4g': trailing zeros dropped, a two-digit exponent at least
    const [mantissa, exponent] = value.toPrecision(digits).split('e');
    const m = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
    const e = Number(exponent);
    return m + 'e' + (e < 0 ? '-' : '+') + String(Math.abs(e)).padStart(2, '0');
  }
  const decimals = digits - 1 - Math.floor(Math.log10(Math.abs(value)));
  if (decimals < 0) {
    if (whole) return fixed(value, 0);
    const unit = Math.pow(10, -decimals);
    return fixed(Math.round(value / unit) * unit, 0);
  }
  const text = fixed(value, decimals);
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function group(text) {
  const sign = text.startsWith('-') ? '-' : '';
  const body = text.slice(sign.length);
  const dot = body.indexOf('.');
  let whole = dot < 0 ? body : body.slice(0, dot);
  const rest = dot < 0 ? '' : body.slice(dot);
  const percent = whole.endsWith('%') ? '%' : '';
  if (percent) whole = whole.slice(0, -1);
  return sign + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + percent + rest;
}

// `value` (a finite number) for people, by `spec` ('' by default; see the top of this file). An
// unknown spec formats as no spec.
export function formatNumber(value, spec) {
  const m = SPEC.exec(spec === undefined || spec === null ? '' : String(spec)) || SPEC.exec('');
  const v = Number(value);
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '∞' : '-∞';
  const [, sign, comma, precision, kind] = m;
  const grouped = !!comma || (kind === undefined && precision === undefined);
  let text;
  if (kind === '%') text = fixed(v * 100, precision === undefined ? 6 : Number(precision)) + '%';
  else if (kind === 'f') text = fixed(v, precision === undefined ? 6 : Number(precision));
  else if (kind === 'd') text = fixed(v, 0);
  else text = significant(v, precision === undefined ? SIGNIFICANT : Math.max(1, Number(precision)), precision === undefined);
  if (text.startsWith('-') && /^[0.%]*$/.test(text.slice(1))) text = text.slice(1); // no "-0"
  if (grouped && !text.includes('e')) text = group(text);
  if (sign && !text.startsWith('-')) text = '+' + text;
  return text;
}

/* mapsrv: a map's Server-Sent Events, read with fetch, for the page (map.js) and the MCP App (app.js).
 *
 * It has EventSource's interface (open, error and named events, readyState, close) and its rules:
 * while the stream ends or the network fails it reconnects after the server's `retry`, sending
 * Last-Event-ID; on an HTTP error or a body that is not an event stream it gives up for good
 * (CLOSED). The format is the WHATWG one: lines end in CRLF, LF or CR, `data` lines join with LF,
 * comments and unknown fields are ignored.
 *
 * Why not EventSource: Chromium's spent 1.3 s of main thread taking in a 10,000-point map's
 * 1.3 MB snapshot (ResponseBodyLoader::OnStateChange and Resource::appendData in a trace), where
 * decoding and splitting the same bytes here takes tens of milliseconds.
 */

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;
const LINE_END = /[\r\n]/g;

// The response early.js asked for while the modules loaded, for `url`'s first connection; taken
// once (a reconnection asks anew, with Last-Event-ID).
function takeEarly(url) {
  const early = globalThis.mapsrvEarlyStream;
  if (!early || early.url !== url) return null;
  globalThis.mapsrvEarlyStream = null;
  return early;
}

class EventStream {
  // `resume: false` never sends Last-Event-ID (the server then starts with a snapshot): a
  // cross-origin reader (the MCP App's opaque-origin iframe) would need a CORS preflight for it.
  constructor(url, { resume = true } = {}) {
    this.url = url;
    this._resume = resume;
    this.readyState = CONNECTING;
    this._listeners = new Map();
    this._lastEventId = '';
    this._retryMs = 3000; // until the server says otherwise, as Chromium's EventSource
    this._controller = null;
    this._timer = null;
    this._resetEvent();
    setTimeout(() => this._open(), 0); // listeners are added first, as with EventSource
  }

  addEventListener(type, fn) {
    if (!this._listeners.has(type)) this._listeners.set(type, []);
    this._listeners.get(type).push(fn);
  }

  // `fn(payload)` for each `type` event, its data parsed as JSON; a bad one is logged, never thrown.
  addJsonListener(type, fn) {
    this.addEventListener(type, (event) => {
      let payload;
      try {
        payload = JSON.parse(event.data);
      } catch (err) {
        console.error('mapsrv: bad ' + type + ' data', err);
        return;
      }
      try {
        fn(payload);
      } catch (err) {
        console.error('mapsrv: failed to apply ' + type, err);
      }
    });
  }

  close() {
    this.readyState = CLOSED;
    clearTimeout(this._timer);
    if (this._controller) this._controller.abort();
    this._controller = null;
  }

  _emit(type, event) {
    for (const fn of this._listeners.get(type) || []) fn(event);
  }

  _current(controller) {
    return controller === this._controller && this.readyState !== CLOSED;
  }

  async _open() {
    if (this.readyState === CLOSED) return;
    const early = takeEarly(this.url); // the first connection, asked for by early.js
    const controller = early ? early.controller : new AbortController();
    this._controller = controller;
    const headers = { Accept: 'text/event-stream' };
    if (this._resume && this._lastEventId) headers['Last-Event-ID'] = this._lastEventId;
    let response;
    try {
      response = await (early ? early.response : fetch(this.url, { headers: headers, cache: 'no-store', signal: controller.signal }));
    } catch (err) {
      this._lost(controller);
      return;
    }
    if (!this._current(controller)) return;
    const type = response.headers.get('Content-Type') || '';
    if (response.status !== 200 || !/^text\/event-stream/i.test(type) || !response.body) {
      controller.abort();
      this.readyState = CLOSED;
      this._emit('error', { type: 'error' });
      return;
    }
    this.readyState = OPEN;
    this._emit('open', { type: 'open' });
    try {
      await this._read(response.body.getReader(), controller);
    } catch (err) {
      // the network failed mid-stream, or close() aborted it
    }
    this._lost(controller);
  }

  // The stream ended or could not be opened: reconnect, resuming from the last event's id.
  _lost(controller) {
    if (!this._current(controller)) return;
    this.readyState = CONNECTING;
    this._resetEvent();
    this._emit('error', { type: 'error' });
    if (this.readyState === CONNECTING) this._timer = setTimeout(() => this._open(), this._retryMs);
  }

  async _read(reader, controller) {
    const decoder = new TextDecoder(); // UTF-8, and drops a leading BOM
    let pieces = []; // the line not ended yet, in the pieces it came in: joined once
    let afterCR = false; // a CR ended the last chunk: an LF opening the next one is its pair
    for (;;) {
      const { value, done } = await reader.read();
      if (done || !this._current(controller)) return;
      const text = decoder.decode(value, { stream: true });
      let start = afterCR && text[0] === '\n' ? 1 : 0;
      afterCR = false;
      for (;;) {
        LINE_END.lastIndex = start;
        const found = LINE_END.exec(text);
        if (!found) {
          if (start < text.length) pieces.push(text.slice(start));
          break;
        }
        const end = found.index;
        let line = text.slice(start, end);
        if (pieces.length) {
          pieces.push(line);
          line = pieces.join('');
          pieces = [];
        }
        this._line(line);
        if (!this._current(controller)) return;
        start = end + 1;
        if (text[end] === '\r') {
          if (end + 1 === text.length) afterCR = true;
          else if (text[end + 1] === '\n') start += 1;
        }
      }
    }
  }

  _resetEvent() {
    this._type = '';
    this._data = [];
    this._idBuffer = this._lastEventId;
  }

  _line(line) {
    if (line === '') {
      this._dispatch();
      return;
    }
    if (line[0] === ':') return; // a comment (the heartbeat)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') this._data.push(value);
    else if (field === 'event') this._type = value;
    else if (field === 'id' && !value.includes('\0')) this._idBuffer = value;
    else if (field === 'retry' && /^[0-9]+$/.test(value)) this._retryMs = Number(value);
  }

  _dispatch() {
    this._lastEventId = this._idBuffer;
    const type = this._type || 'message';
    const data = this._data.join('\n');
    const empty = this._data.length === 0;
    this._type = '';
    this._data = [];
    if (!empty) this._emit(type, { type: type, data: data, lastEventId: this._lastEventId });
  }
}

EventStream.CONNECTING = CONNECTING;
EventStream.OPEN = OPEN;
EventStream.CLOSED = CLOSED;
export { EventStream };

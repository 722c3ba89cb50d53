/* mapsrv page: the map's event stream asked for at once, while the page's modules load (issue 74).
 *
 * The page's ~40 modules are one graph, evaluated only once the last of them has come (a quarter
 * of a second for a newcomer on loopback, more on a real network). The stream's request, made
 * here as the page's head is parsed, has the map's snapshot on its way meanwhile; stream.js takes
 * this response for its first connection (`takeEarly`) and keeps EventSource's rules from then on.
 * A classic script (the modules wait for each other), with its URL from its own data-events.
 */
(function () {
  const script = document.currentScript;
  const url = script && script.dataset.events;
  if (!url || !window.fetch || !window.AbortController) return;
  const controller = new AbortController();
  const response = fetch(url, { headers: { Accept: 'text/event-stream' }, cache: 'no-store', signal: controller.signal });
  response.catch(function () {}); // a failure is stream.js's to handle, once it takes the response
  window.mapsrvEarlyStream = { url: url, controller: controller, response: response };
})();

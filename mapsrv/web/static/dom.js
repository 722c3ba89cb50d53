/* mapsrv: the few DOM helpers the page's modules and the MCP App share. Text written by an agent
 * or a person only ever reaches the DOM through textContent. */

export const byId = (id) => document.getElementById(id);

export function textNode(tag, className, text) {
  const el = document.createElement(tag);
  el.className = className;
  el.textContent = text;
  return el;
}

// For the one place that takes HTML: Leaflet's attribution control (the server hands plain text).
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

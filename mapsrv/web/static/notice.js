/* mapsrv page: what the page says about itself. An empty map explains how to get an assistant
 * drawing on it; a tile server that cannot be reached is named in a banner (the features stay,
 * on the offline world map, basemap.js); a map that no longer exists (expired, or deleted by its
 * owner) says which and offers a new one.
 */
import { page } from './map.js';

const { cfg, byId, textNode } = page;

// ---------------------------------------------------------------- the empty map

const help = byId('help');
let helpDismissed = false;

function copyRow(label, text, name) {
  const row = document.createElement('div');
  row.className = 'help-item';
  const head = document.createElement('div');
  head.className = 'help-item-head';
  head.appendChild(textNode('span', 'row-label', label));
  const code = textNode('pre', 'help-code', text);
  const button = textNode('button', 'btn', 'Copy');
  button.type = 'button';
  button.setAttribute('aria-label', 'Copy ' + name);
  button.addEventListener('click', () => page.copyText(button, code));
  head.appendChild(button);
  row.appendChild(head);
  row.appendChild(code);
  return row;
}

function mcpConfig() {
  return JSON.stringify({ mcpServers: { mapsrv: { type: 'http', url: cfg.mcpUrl } } }, null, 2);
}

function buildHelp() {
  help.appendChild(textNode('h2', 'help-title', 'This map is empty'));
  help.lastChild.id = 'help-title';
  if (cfg.mode !== 'edit') {
    help.appendChild(textNode('p', 'help-text',
      'Nothing is drawn yet. This page updates by itself as soon as something is.'));
    return;
  }
  if (!cfg.mapId) { // an editor: the map code (what an assistant needs) is the owner's
    help.appendChild(textNode('p', 'help-text',
      'Draw with the tools on the left (M, L, P, N); everyone on this map sees it at once.'));
  } else {
    help.appendChild(textNode('p', 'help-text',
      'Ask an assistant to draw on it, or draw yourself with the tools on the left (M, L, P, N).'));
    agentHelp();
  }
  const close = textNode('button', 'btn help-close', 'Hide');
  close.type = 'button';
  close.setAttribute('aria-label', 'Hide these instructions');
  close.addEventListener('click', () => { helpDismissed = true; update(); });
  help.appendChild(close);
}

function agentHelp() {
  help.appendChild(copyRow('1. Connect your assistant (MCP, Streamable HTTP)', mcpConfig(), 'the MCP configuration'));
  help.appendChild(textNode('p', 'help-text help-small',
    'A desktop client that starts its servers itself can run "mapsrv stdio" instead.'));
  help.appendChild(copyRow('2. Ask it', 'Draw on my map ' + cfg.mapId +
    ': the three best viewpoints in Lisbon, with a walking route between them.', 'the prompt'));
}

// Nothing drawn and nothing shown from elsewhere: a map of tile layers alone is not empty.
function isEmpty() {
  if (page.features.size) return false;
  for (const entry of page.layers.values()) if (entry.source) return false;
  return true;
}

function update() {
  const empty = isEmpty() && page.connState !== 'gone';
  // Out of the way while the person draws (it would cover the map they click on).
  help.hidden = !empty || helpDismissed || page.replaying === true || !!page.tool;
}

buildHelp();
page.on('snapshot', update);
page.on('applied', update);
page.updateHelp = update;

// ---------------------------------------------------------------- tiles that do not come

const banner = byId('tiles-banner');

function tileHost() {
  try {
    return new URL(cfg.tileUrl.replace('{s}', 'a').replace(/[{}]/g, ''), window.location.href).host;
  } catch (err) {
    return 'the tile server';
  }
}

page.world.onTiles((down) => {
  if (down) {
    // the imported regions' street maps stand in where they cover (basemap.js turns them on)
    const streets = (cfg.basemaps || []).map((b) => b.name);
    const instead = streets.length
      ? 'the street map of ' + streets.join(', ') + ' and the offline world map'
      : 'the offline world map';
    banner.textContent = 'The map background from ' + tileHost() +
      ' cannot be reached, so the map is drawn on ' + instead + '. Everything on the map is still shown and live.';
  }
  banner.hidden = !down;
  document.body.classList.toggle('tiles-down', down);
});

// ---------------------------------------------------------------- a map that is gone

page.on('gone', (why) => {
  if (why === 'deleted') {
    byId('gone-title').textContent = 'This map was deleted by its owner';
    byId('gone-why').textContent = 'Its owner deleted it, with its history and its links. '
      + 'Ask them for a copy if you still need it.';
  }
  document.body.dataset.gone = why;
  byId('gone').hidden = false;
  help.hidden = true;
  document.title = (why === 'deleted' ? 'Map deleted' : 'Map not found') + ' · mapsrv';
  const button = byId('gone').querySelector('button');
  if (button) button.focus();
});

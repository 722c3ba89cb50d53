/* mapsrv page: the search box for places and addresses (search.js) at the top of the panel. On
 * the owner's and an editor's page a place found can become a marker, labelled with its name,
 * through the page's one write path (page.write: attributed to the person, undoable); the view
 * link only searches and flies.
 */
import { page } from './map.js';
import { createPlaceSearch } from './search.js';

const { cfg, byId } = page;

const box = createPlaceSearch(page.map, {
  where: () => cfg.prefix || null,
  addMarker: cfg.mode === 'edit' ? addMarker : null,
});
byId('panel').querySelector('.panel-head').after(box.element);

async function addMarker(place) {
  const id = page.newId('pin');
  const marker = { op: 'add_feature', id: id, type: 'marker', coords: [place.lat, place.lon], label: String(place.name).slice(0, 200) };
  const version = await page.write([marker], page.version);
  if (version) page.toast('Added a marker: ' + place.name);
  return Boolean(version);
}

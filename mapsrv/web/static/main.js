/* mapsrv live map page: its modules, in the order they build on each other. map.js draws and
 * connects (with render.js, shared with the MCP App); the others add to the page it exports. */
import './map.js';
import './notice.js';
import './write.js';
import './edit.js';
import './draw.js';
import './activity.js';
import './people.js';
import './importer.js';
import './places.js';
import './profile.js';

// A test host for MCP Apps around the official AppBridge (@modelcontextprotocol/ext-apps), bundled
// by esbuild (tests/support/apps_host.py) into one page. It renders an app's HTML in an iframe the
// way real hosts do, in one of three ways (setup.kind):
//   grow:  a sandboxed srcdoc iframe (an opaque origin) that starts at an iframe's default 150 px
//          and takes its height only from ui/notifications/size-changed, as the spec has hosts do;
//   fixed: the same iframe at a fixed height, told so in hostContext.containerDimensions;
//   dom:   the page as a same-origin blob, its height read from the document element (what
//          Claude.ai does), size-changed only recorded.
// Everything the app asks of the host is recorded on window.host for the test to read.
import { AppBridge, PostMessageTransport } from '@modelcontextprotocol/ext-apps/app-bridge';

const setup = JSON.parse(document.getElementById('setup').textContent);
const box = document.getElementById('box');
const frame = document.getElementById('app');
const host = {
  kind: setup.kind,
  initialized: false,
  sizes: [],
  links: [],
  modes: [],
  teardowns: 0,
  errors: [],
  bridge: null,
};
window.host = host;

function policy(csp) {
  const resources = (csp.resourceDomains || []).join(' ');
  const connect = (csp.connectDomains || []).join(' ');
  return `default-src 'none'; script-src 'unsafe-inline' ${resources}; style-src 'unsafe-inline' ${resources};`
    + ` img-src data: ${resources}; font-src ${resources}; connect-src ${connect}; frame-src 'none';`
    + " base-uri 'none'";
}

function inlineDimensions() {
  if (setup.kind === 'fixed') return { height: setup.height, width: setup.width };
  return { maxHeight: setup.maxHeight, width: setup.width };
}

let context = {
  theme: 'light',
  displayMode: 'inline',
  availableDisplayModes: ['inline', 'fullscreen'],
  containerDimensions: inlineDimensions(),
  platform: 'web',
  locale: 'en-GB',
};

box.style.width = setup.width + 'px';
if (setup.kind === 'fixed') frame.style.height = setup.height + 'px';

const bridge = new AppBridge(
  null,
  { name: 'mapsrv-test-host', version: '1.0.0' },
  { openLinks: {}, logging: {} },
  { hostContext: context },
);
host.bridge = bridge;

bridge.onsizechange = ({ width, height }) => {
  host.sizes.push({ width, height, at: performance.now() });
  if (typeof height === 'number') host.lastHeight = height;
  if (setup.kind === 'grow' && context.displayMode === 'inline' && typeof height === 'number') {
    frame.style.height = height + 'px';
  }
};
bridge.onopenlink = async ({ url }) => {
  host.links.push(url);
  return {};
};
bridge.onrequestdisplaymode = async ({ mode }) => {
  host.modes.push(mode);
  const granted = context.availableDisplayModes.includes(mode) ? mode : context.displayMode;
  if (granted === 'fullscreen') {
    box.style.cssText = 'position:fixed;inset:0;width:auto;';
    frame.style.height = window.innerHeight + 'px';
    update({ displayMode: 'fullscreen', containerDimensions: { height: window.innerHeight, width: window.innerWidth } });
  } else {
    box.style.cssText = 'width:' + setup.width + 'px';
    // A host that sizes the frame only from size-changed leaves it at its full-screen height
    // until the app tells it the inline height again.
    if (setup.kind === 'fixed') frame.style.height = setup.height + 'px';
    else if (setup.kind !== 'grow') frame.style.height = (host.lastHeight || 150) + 'px';
    update({ displayMode: 'inline', containerDimensions: inlineDimensions() });
  }
  return { mode: granted };
};
bridge.onloggingmessage = (params) => { host.errors.push('app log: ' + JSON.stringify(params)); };
bridge.oninitialized = () => {
  host.initialized = true;
  if (setup.call) bridge.sendToolInput({ arguments: setup.call });
  if (setup.result) bridge.sendToolResult(setup.result);
};

function update(changes) {
  context = { ...context, ...changes };
  bridge.setHostContext(context);
}

host.setTheme = (theme) => update({ theme });
host.sendResult = (result) => bridge.sendToolResult(result);
host.cancel = (reason) => bridge.sendToolCancelled({ reason });
host.teardown = async () => {
  await bridge.teardownResource({});
  host.teardowns += 1;
};
host.frameHeight = () => frame.getBoundingClientRect().height;

const html = setup.html.replace('<head>', `<head><meta http-equiv="Content-Security-Policy" content="${policy(setup.csp)}">`);

if (setup.kind === 'dom') {
  // the page's own document element decides the iframe's height, as a host reading the DOM does
  frame.setAttribute('sandbox', 'allow-scripts allow-same-origin');
  frame.addEventListener('load', () => {
    const root = frame.contentDocument.documentElement;
    const follow = () => {
      if (context.displayMode !== 'inline') return;
      const height = Math.ceil(root.getBoundingClientRect().height);
      host.lastHeight = height;
      frame.style.height = height + 'px';
    };
    new ResizeObserver(follow).observe(root);
    follow();
  });
} else {
  frame.setAttribute('sandbox', 'allow-scripts');
}

await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
if (setup.kind === 'dom') frame.src = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
else frame.srcdoc = html;

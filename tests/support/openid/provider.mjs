// A real OpenID provider for mapsrv's tests: oidc-provider (OpenID-certified; installed with Node
// by scripts/gateway-node.sh), configured from OIDC_TEST_CONFIG (JSON, see tests/support/openid.py):
//   {port, issuer, jwks: {keys: [private JWKs]}, resource, resources: [...], clientNameClaim,
//    clients: [...], users: {id: {password, name, email}}, nameAt: 'id_token' | 'userinfo', endSession}
// nameAt 'userinfo': a sign-in that names no resource gets an opaque access token and an ID token
// with no profile claims (only sub), so that the person's name and email are at userinfo alone, as
// with many providers. endSession: RP-initiated logout (end_session_endpoint in the metadata), with
// a confirmation page of its own ("Sign out of the test provider?", #logout-yes).
// It signs with the given keys (so the test can mint tokens with them too), lets any client
// register itself (as MCP clients do), issues JWT access tokens for the resources (RFC 8707:
// `resource`, or each of `resources`, the first the default) with the scopes maps:read and
// maps:write, and signs people in with a login form of its own that checks the configured users'
// passwords. Consent is given on the person's behalf. With `clientNameClaim`, access tokens carry
// the registered client's name as `client_name` (as some issuers do); `client_id` they always do.
// Prints "READY <issuer>" once listening.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// oidc-provider from the test Node home (OIDC_NODE_MODULES): ES modules ignore NODE_PATH
const { default: Provider, errors } = await import(
  pathToFileURL(join(process.env.OIDC_NODE_MODULES, 'oidc-provider', 'lib', 'index.js')).href
);

const cfg = JSON.parse(process.env.OIDC_TEST_CONFIG);
const users = cfg.users || {};
const nameAtUserinfo = cfg.nameAt === 'userinfo';
const resources = cfg.resources || [cfg.resource];
const OIDC_SCOPES = 'openid profile email offline_access';
const RESOURCE_SCOPES = 'maps:read maps:write';

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><h1>${title}</h1>${body}</body></html>`;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginForm(uid, error) {
  return page('Sign in to the test provider', `${error ? `<p id="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
  <label>User <input id="login" name="login" autocomplete="username" required></label>
  <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
  <button id="submit" type="submit">Sign in</button>
</form>`);
}

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const configuration = {
  clients: cfg.clients || [],
  jwks: cfg.jwks,
  scopes: [...OIDC_SCOPES.split(' '), ...RESOURCE_SCOPES.split(' ')],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
  cookies: { keys: ['mapsrv-tests-only'] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    rpInitiatedLogout: {
      enabled: Boolean(cfg.endSession),
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out of the test provider?', `${form}
<button id="logout-yes" type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button id="logout-no" type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
    },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // with nameAt 'userinfo', a sign-in that names no resource gets an opaque token for userinfo
      defaultResource: (ctx) => (nameAtUserinfo && !ctx.oidc.params.resource ? undefined : resources[0]),
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, indicator) {
        if (!resources.includes(indicator)) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
        return {
          scope: RESOURCE_SCOPES,
          audience: indicator,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: user.name, email: user.email, preferred_username: id };
      },
    };
  },
  // the person's name in access tokens too, so that mapsrv can say whom an agent acts for
  async extraTokenClaims(ctx, token) {
    const user = users[token.accountId];
    const claims = user ? { name: user.name } : {};
    if (cfg.clientNameClaim && token.clientId) {
      const client = await ctx.oidc.provider.Client.find(token.clientId);
      if (client?.clientName) claims.client_name = client.clientName;
    }
    return claims;
  },
  // consent on the person's behalf: everything the client asks for that exists
  async loadExistingGrant(ctx) {
    const { provider, client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    let grant = grantId ? await provider.Grant.find(grantId) : undefined;
    if (!grant) grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope(OIDC_SCOPES);
    if (!nameAtUserinfo) grant.addOIDCClaims(['name', 'email', 'preferred_username']);
    for (const resource of resources) grant.addResourceScope(resource, RESOURCE_SCOPES);
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
};

const provider = new Provider(cfg.issuer, configuration);

provider.use(async (ctx, next) => {
  const found = /^\/interaction\/([^/]+)(\/login)?$/.exec(ctx.path);
  if (!found) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.prompt.name === 'consent') {
    // consent on the person's behalf (asked again when a client sends prompt=consent)
    const { prompt: { details: missing }, params, session } = details;
    let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    if (!grant) grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId: await grant.save() } }, {
      mergeWithLastSubmission: true,
    });
    ctx.status = 303;
    ctx.redirect(to);
    return undefined;
  }
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = loginForm(details.uid);
    return undefined;
  }
  if (ctx.method === 'POST' && found[2]) {
    const form = await formBody(ctx.req);
    const login = form.get('login') || '';
    const user = users[login];
    if (!user || user.password !== form.get('password')) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginForm(details.uid, 'wrong user or password');
      return undefined;
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: login } }, {
      mergeWithLastSubmission: false,
    });
    ctx.status = 303;
    ctx.redirect(to);
    return undefined;
  }
  ctx.status = 405;
  return undefined;
});

const server = provider.listen(cfg.port, '127.0.0.1', () => {
  process.stdout.write(`READY ${cfg.issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

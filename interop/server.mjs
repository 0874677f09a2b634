// A real, independent OpenID Provider (panva/oidc-provider, OpenID Certified)
// for httpoidc's interop tests. Settings come as JSON from argv[2] or
// $OIDC_PROVIDER_CONFIG; see internal/testenv for the Go side. Every page is
// self-contained (no external CSS or fonts) because the browser tests must
// never reach beyond loopback.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';

const cfg = JSON.parse(process.argv[2] || process.env.OIDC_PROVIDER_CONFIG || '{}');
const host = cfg.host || '127.0.0.2';
const users = new Map((cfg.users || []).map((u) => [u.sub, u]));
const resources = new Map((cfg.resources || []).map((r) => [r.indicator, r]));
const ttl = (seconds, fallback) => (Number.isFinite(seconds) && seconds > 0 ? seconds : fallback);

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(cfg.port || 0, host, resolve);
});
const issuer = `http://${host}:${server.address().port}`;

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: (cfg.clients || []).map((c) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // Puts sid into ID and logout tokens, so that an RP can match them up.
    backchannel_logout_session_required: !!c.backchannel_logout_uri,
    ...c,
  })),
  responseTypes: ['code'],
  // oidc-provider refuses to call special-use addresses (SSRF protection), but
  // every back-channel logout URI here is on loopback. Allow exactly that.
  fetch: (url, options) => {
    if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(new URL(url).hostname)) {
      return Promise.reject(new Error(`refusing to reach beyond loopback: ${url}`));
    }
    const { dispatcher: ssrfGuard, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', ...(cfg.fapi ? ['private_key_jwt'] : [])],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
    roles: ['realm_access', 'resource_access', 'roles'],
  },
  // By default (spec-conform) a code flow's ID token carries no scope claims;
  // userinfo does. Tests can ask for them in the ID token too.
  conformIdTokenClaims: !cfg.idTokenClaims,
  pkce: { required: () => true },
  ttl: {
    AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL || ttl(cfg.accessTokenTTL, 3600),
    IdToken: () => ttl(cfg.idTokenTTL, 3600),
    RefreshToken: () => ttl(cfg.refreshTokenTTL, 86400),
    AuthorizationCode: () => 60,
    Interaction: () => 600,
    Session: () => 86400,
    Grant: () => 86400,
  },
  findAccount: (ctx, sub) => {
    const u = users.get(sub);
    return u && {
      accountId: sub,
      claims: () => ({
        ...(u.claims || {}),
        sub,
        email: u.email,
        email_verified: u.email_verified,
        name: u.name,
        preferred_username: sub,
        groups: u.groups || [],
      }),
    };
  },
  // OIDC Core 11 still applies: offline_access is dropped unless prompt=consent.
  issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token')
    && code.scopes.has('offline_access'),
  // All clients here are first-party test clients: grant whatever they ask,
  // so a scripted login sees no consent page unless prompt=consent forces it.
  loadExistingGrant: async (ctx) => {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    const grant = (grantId && await oidc.provider.Grant.find(grantId))
      || new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    grant.addOIDCClaims([...oidc.requestParamClaims]);
    for (const [indicator, rs] of Object.entries(oidc.resourceServers)) {
      grant.addResourceScope(indicator, [...oidc.requestParamScopes].filter((s) => rs.scopes.has(s)).join(' '));
    }
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    // cfg.fapi: FAPI 2.0 Security Profile — pushed authorization requests
    // required, DPoP with a server nonce always required, assertions with
    // aud the issuer.
    ...(cfg.fapi ? {
      fapi: { enabled: true, profile: '2.0' },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
      dPoP: { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true },
    } : {}),
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
    registration: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out', `${form}
<button id="logout-yes" type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button id="logout-no" type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
      },
    },
    resourceIndicators: {
      enabled: true,
      // cfg.useGrantedResource: a resource asked for at authorization only
      // (a web app's AuthParams) also selects the access token the code is
      // exchanged for, instead of the default, an opaque token for userinfo.
      useGrantedResource: () => !!cfg.useGrantedResource,
      getResourceServerInfo: async (ctx, indicator) => {
        const r = resources.get(indicator);
        if (!r) throw new errors.InvalidTarget();
        return {
          scope: (r.scopes || []).join(' '),
          audience: indicator,
          accessTokenFormat: 'jwt',
          accessTokenTTL: ttl(r.accessTokenTTL, ttl(cfg.accessTokenTTL, 3600)),
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out)
      .map(([k, v]) => `<p class="error"><b>${esc(k)}</b>: ${esc(v)}</p>`).join(''));
  },
});

for (const ev of ['server_error', 'authorization.error', 'grant.error', 'backchannel.error',
  'end_session.error', 'introspection.error', 'revocation.error', 'registration_create.error',
  'userinfo.error', 'pushed_authorization_request.error', 'dpop.error']) {
  provider.on(ev, (ctx, err) => console.error(`oidc-provider ${ev}:`, err?.message ?? err, err?.error_description ?? ''));
}

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return new URLSearchParams(raw);
}

// The login and consent pages: small, stable forms that both a plain Go
// http.Client and a headless browser can fill in.
provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/([^/]+)(?:\/(login|confirm))?$/);
  if (!m) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { uid, prompt, params } = details;
  ctx.set('cache-control', 'no-store');
  ctx.type = 'html';

  if (ctx.method === 'GET' && !m[2]) {
    if (prompt.name === 'login') {
      ctx.body = page('Sign in', `<form id="login-form" method="post" action="/interaction/${esc(uid)}/login">
<input id="username" name="username" value="${esc(params.login_hint)}" autofocus>
<input id="password" name="password" type="password">
<button id="submit" type="submit">Sign in</button></form>`);
    } else {
      ctx.body = page('Authorize', `<p>${esc(params.client_id)} asks for: ${esc(params.scope)}</p>
<form id="consent-form" method="post" action="/interaction/${esc(uid)}/confirm">
<button id="submit" type="submit">Continue</button></form>`);
    }
    return undefined;
  }

  if (ctx.method === 'POST' && m[2] === 'login') {
    const form = await formBody(ctx.req);
    const user = users.get(form.get('username'));
    if (!user || user.password !== form.get('password')) {
      ctx.status = 401;
      ctx.body = page('Sign in', `<p id="error" class="error">Invalid username or password.</p>
<form id="login-form" method="post" action="/interaction/${esc(uid)}/login">
<input id="username" name="username" value="${esc(form.get('username'))}">
<input id="password" name="password" type="password">
<button id="submit" type="submit">Sign in</button></form>`);
      return undefined;
    }
    return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }

  if (ctx.method === 'POST' && m[2] === 'confirm') {
    const { session, grantId } = details;
    const grant = (grantId && await provider.Grant.find(grantId))
      || new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    return provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }
  return next();
});

server.on('request', provider.callback());
console.log(`ISSUER ${issuer}`);

// Exit with the parent: Go holds our stdin open for as long as it wants us.
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop).on('error', stop).resume();

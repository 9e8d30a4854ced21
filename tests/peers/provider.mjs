#!/usr/bin/env node
// A real OpenID provider (oidc-provider) playing a citizen's credential
// provider: authorization code flow + PKCE S256 only, claims at /me, acr in the
// ID token, RP-initiated logout, ES256 (default) or RS256 ID tokens.
//
// Headless sign-in: GET /interaction/<uid> with a `login_hint` naming a
// configured account signs that account in at once; consent is always granted
// for what was asked. Without a hint the dev login form is shown.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

import * as jose from 'jose';
import Provider from 'oidc-provider';

import {
  announce, die, exitOnSignals, listen, logger, parseFlags, readBody, readJson, sendJson,
} from './lib/common.mjs';

const NAME = 'provider';
const log = logger(NAME);

const flags = parseFlags({
  port: { type: 'string' },
  issuer: { type: 'string' },
  clients: { type: 'string' },
  accounts: { type: 'string' },
  'default-login': { type: 'string' },
});
if (!flags.clients) die(NAME, '--clients <json file> is required');
if (!flags.accounts) die(NAME, '--accounts <json file> is required');

// ---- configuration files -------------------------------------------------

// [{client_id, client_secret | jwks, redirect_uris, post_logout_redirect_uris, ...}]
// (or {"clients": [...]}); any other oidc-provider client metadata passes through.
function loadClients(path) {
  const raw = readJson(path);
  const list = Array.isArray(raw) ? raw : raw.clients;
  if (!Array.isArray(list)) die(NAME, `${path}: expected an array of clients`);
  return list.map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'ES256',
    token_endpoint_auth_method: c.jwks || c.jwks_uri ? 'private_key_jwt' : 'client_secret_basic',
    ...c,
  }));
}

// {"<account id>": {given_name, family_name, ..., "acr": "..."}} (or {"accounts": {...}})
function loadAccounts(path) {
  const raw = readJson(path);
  const map = raw.accounts && typeof raw.accounts === 'object' ? raw.accounts : raw;
  return new Map(Object.entries(map));
}

const clients = loadClients(flags.clients);
const accounts = loadAccounts(flags.accounts);
let defaultLogin = flags['default-login'];

// ---- keys ----------------------------------------------------------------

async function signingKey(alg) {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}` };
}

// ---- interactions: headless login + automatic consent ---------------------

function loginResult(accountId) {
  const account = accounts.get(accountId);
  if (!account) {
    log(`login refused: unknown account ${JSON.stringify(accountId)}`);
    return { error: 'access_denied', error_description: 'unknown account' };
  }
  log(`login: ${accountId} (acr ${account.acr ?? '-'})`);
  return { login: { accountId, acr: account.acr, amr: account.amr ?? ['pwd'] } };
}

async function consentResult(provider, details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  log(`consent granted: ${session.accountId} -> ${params.client_id} (${params.scope})`);
  return { consent: { grantId: await grant.save() } };
}

async function finish(ctx, provider, result, merge) {
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
  ctx.status = 303;
  ctx.redirect(to);
}

/** Koa middleware in front of oidc-provider's /interaction/<uid> routes. */
function autoInteractions(provider) {
  return async (ctx, next) => {
    if (!/^\/interaction\/[^/]+$/.test(ctx.path)) return next();

    if (ctx.method === 'GET') {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.prompt.name === 'consent') {
        return finish(ctx, provider, await consentResult(provider, details), true);
      }
      const hint = details.params.login_hint ?? defaultLogin;
      if (details.prompt.name === 'login' && hint) {
        return finish(ctx, provider, loginResult(hint), false);
      }
      return next(); // dev login form
    }

    if (ctx.method === 'POST') {
      // The dev login form posts here; sign in with the account's acr.
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      const form = new URLSearchParams(await readBody(ctx.req));
      if (details.prompt.name !== 'login' || form.get('prompt') !== 'login') ctx.throw(400, 'unexpected interaction');
      return finish(ctx, provider, loginResult(form.get('login') ?? ''), false);
    }
    return next();
  };
}

/** POST /control/default-login {"account": "alice" | null}: who signs in when no login_hint is sent. */
function controlRoutes() {
  return async (ctx, next) => {
    if (ctx.path !== '/control/default-login') return next();
    if (ctx.method === 'POST') {
      const body = JSON.parse((await readBody(ctx.req)) || '{}');
      defaultLogin = body.account ?? undefined;
      log(`default login set to ${defaultLogin ?? '(none: show the form)'}`);
    }
    ctx.body = { default_login: defaultLogin ?? null };
  };
}

// ---- plain pages (no external resources) -----------------------------------

const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>${title}</title><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>${title}</h1>${body}</main></body></html>`;

async function logoutSource(ctx, form) {
  ctx.type = 'html';
  ctx.body = page('Sign out', `${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<p>You are signed out.</p>');
}

// ---- provider ---------------------------------------------------------------

const PROFILE = ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username',
  'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'];

function configuration(jwks) {
  const acrValues = [...new Set([...accounts.values()].map((a) => a.acr).filter(Boolean))];
  return {
    clients,
    jwks,
    acrValues,
    scopes: ['openid', 'profile', 'email', 'address', 'phone'],
    claims: {
      // acr and auth_time ride on `openid` so every ID token asserts them.
      openid: ['sub', 'acr', 'auth_time'],
      sid: null,
      profile: PROFILE,
      email: ['email', 'email_verified'],
      address: ['address'],
      phone: ['phone_number', 'phone_number_verified'],
    },
    responseTypes: ['code'],
    pkce: { required: () => true }, // S256 is the only method oidc-provider 9 knows
    features: {
      devInteractions: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      resourceIndicators: { enabled: false },
    },
    enabledJWA: { idTokenSigningAlgValues: ['ES256', 'RS256'] },
    ttl: {
      AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600, Session: 86400, Grant: 86400,
    },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    async findAccount(_ctx, id) {
      const account = accounts.get(id);
      if (!account) return undefined;
      const { acr, amr, ...claims } = account;
      return { accountId: id, claims: async () => ({ ...claims, sub: id }) };
    },
  };
}

let app = (_req, res) => sendJson(res, 503, { error: 'starting' });
const server = createServer((req, res) => app(req, res));
exitOnSignals(NAME, server);

const issuerFlag = flags.issuer?.replace(/\/$/, '');
const port = flags.port ?? (issuerFlag ? new URL(issuerFlag).port : 0);
const base = await listen(server, port);
const issuer = issuerFlag ?? base;
if (new URL(issuer).pathname !== '/') die(NAME, '--issuer must have no path');

const jwks = { keys: [await signingKey('ES256'), await signingKey('RS256')] };
const provider = new Provider(issuer, configuration(jwks));
provider.use(controlRoutes());
provider.use(autoInteractions(provider));

for (const event of ['authorization.error', 'grant.error', 'userinfo.error', 'end_session.error', 'server_error']) {
  provider.on(event, (...args) => {
    const err = args.find((a) => a instanceof Error);
    log(`${event}: ${err?.message ?? ''} ${err?.error_description ?? ''}`);
  });
}
provider.on('grant.success', (ctx) => log(`token issued to ${ctx.oidc.client?.clientId}`));
provider.on('end_session.success', () => log('end_session: signed out'));

app = provider.callback();
log(`issuer ${issuer}; clients ${clients.map((c) => c.client_id).join(', ')}; accounts ${[...accounts.keys()].join(', ')}`);
announce(issuer);

#!/usr/bin/env node
// A deliberately broken OpenID provider for attack tests (node:http + jose).
// One instance serves every case: the scenario is picked per authorization
// request by `login_hint` ("<scenario>" or "<scenario>:<sub>"), else the one
// set by POST /control/scenario, else --scenario (default "ok").
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

import * as jose from 'jose';

import {
  announce, die, exitOnSignals, listen, logger, parseFlags, readBody, readJson, sendJson,
} from './lib/common.mjs';

const NAME = 'hostile-provider';
const log = logger(NAME);

const SCENARIOS = [
  'ok', 'alg-none', 'hs256-client-secret', 'unknown-kid', 'bad-signature', 'wrong-iss', 'wrong-aud',
  'multi-aud-no-azp', 'expired', 'iat-future', 'nonce-mismatch', 'nonce-missing', 'userinfo-sub-mismatch',
  'token-500', 'token-slow', 'iss-mixup', 'code-replay', 'pkce-check', 'sub-missing', 'iat-missing',
];

const flags = parseFlags({
  port: { type: 'string' },
  issuer: { type: 'string' },
  clients: { type: 'string' },
  claims: { type: 'string' },
  scenario: { type: 'string' },
  'other-issuer': { type: 'string' },
  sub: { type: 'string' },
  acr: { type: 'string' },
  'discovery-500': { type: 'boolean' },
}, { defaults: { scenario: 'ok', 'other-issuer': 'https://attacker.example', sub: 'hostile-user', acr: 'urn:example:loa:2' } });

const state = {
  scenario: flags.scenario,
  otherIssuer: flags['other-issuer'],
  discovery500: Boolean(flags['discovery-500']),
};
if (!SCENARIOS.includes(state.scenario)) die(NAME, `unknown --scenario ${state.scenario}`);

// Optional: [{client_id, client_secret, redirect_uris}] — when given, unknown
// clients and redirect URIs are refused; hs256 uses the registered secret.
const clients = flags.clients ? new Map(readJson(flags.clients).map((c) => [c.client_id, c])) : null;
const userinfoClaims = flags.claims ? readJson(flags.claims) : {
  given_name: 'Mallory', family_name: 'Hostile', birthdate: '1970-01-01', email: 'mallory@example.org', email_verified: true,
};

const codes = new Map(); // code -> authorization request + scenario
const accessTokens = new Map(); // token -> {sub, scenario}
const requestLog = []; // what relying parties sent, for GET /control/log

const now = () => Math.floor(Date.now() / 1000);
const b64u = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const s256 = (verifier) => createHash('sha256').update(verifier).digest('base64url');

// The published key, and one that is never published (unknown-kid).
const published = await jose.generateKeyPair('ES256');
const publishedKid = `hostile-${randomBytes(4).toString('hex')}`;
const publicJwk = { ...(await jose.exportJWK(published.publicKey)), kid: publishedKid, alg: 'ES256', use: 'sig' };
const stranger = await jose.generateKeyPair('ES256');

let issuer;

// ---- ID tokens per scenario ----------------------------------------------

function idTokenClaims(grant) {
  const t = now();
  const claims = {
    iss: issuer, sub: grant.sub, aud: grant.client_id, iat: t, exp: t + 300, auth_time: t, acr: flags.acr,
  };
  if (grant.nonce !== undefined) claims.nonce = grant.nonce;
  switch (grant.scenario) {
    case 'wrong-iss': claims.iss = state.otherIssuer; break;
    case 'wrong-aud': claims.aud = 'some-other-client'; break;
    case 'multi-aud-no-azp': claims.aud = [grant.client_id, 'some-other-client']; break;
    case 'expired': claims.iat = t - 7200; claims.exp = t - 3600; claims.auth_time = t - 7200; break;
    case 'iat-future': claims.iat = t + 3600; claims.exp = t + 3900; break;
    case 'nonce-mismatch': claims.nonce = `not-${grant.nonce ?? ''}${randomBytes(4).toString('hex')}`; break;
    case 'nonce-missing': delete claims.nonce; break;
    case 'sub-missing': delete claims.sub; break;
    case 'iat-missing': delete claims.iat; break;
    default: break;
  }
  return claims;
}

async function sign(claims, key, kid) {
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid }).sign(key);
}

async function idToken(grant, clientSecret) {
  const claims = idTokenClaims(grant);
  switch (grant.scenario) {
    case 'alg-none':
      return `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u(claims)}.`;
    case 'hs256-client-secret':
      if (!clientSecret) throw new Error('hs256-client-secret needs the client secret (client_secret_basic/post or --clients)');
      return new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode(clientSecret));
    case 'unknown-kid':
      return sign(claims, stranger.privateKey, `unknown-${randomBytes(4).toString('hex')}`);
    case 'bad-signature': {
      const [h, p, s] = (await sign(claims, published.privateKey, publishedKid)).split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[10] ^= 0xff; // still 64 bytes, no longer valid
      return `${h}.${p}.${sig.toString('base64url')}`;
    }
    default:
      return sign(claims, published.privateKey, publishedKid);
  }
}

// ---- endpoints ---------------------------------------------------------------

function discovery() {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code'],
    subject_types_supported: ['public'],
    scopes_supported: ['openid', 'profile', 'email', 'address', 'phone'],
    id_token_signing_alg_values_supported: ['ES256'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    authorization_response_iss_parameter_supported: true,
    claims_supported: ['sub', 'acr', 'given_name', 'family_name', 'birthdate', 'email', 'email_verified'],
  };
}

function pickScenario(loginHint) {
  const [name, sub] = (loginHint ?? '').split(':');
  if (SCENARIOS.includes(name)) return { scenario: name, sub: sub || flags.sub };
  return { scenario: state.scenario, sub: flags.sub };
}

function authorize(res, url) {
  const q = Object.fromEntries(url.searchParams);
  requestLog.push({ at: new Date().toISOString(), endpoint: 'authorize', params: q });
  const client = clients?.get(q.client_id);
  if (!q.redirect_uri || (clients && (!client || !client.redirect_uris.includes(q.redirect_uri)))) {
    return sendJson(res, 400, { error: 'invalid_request', error_description: 'unknown client or redirect_uri' });
  }
  const { scenario, sub } = pickScenario(q.login_hint);
  const code = randomBytes(24).toString('base64url');
  codes.set(code, {
    scenario, sub, client_id: q.client_id, redirect_uri: q.redirect_uri, nonce: q.nonce,
    code_challenge: q.code_challenge, code_challenge_method: q.code_challenge_method, used: false,
  });
  const back = new URL(q.redirect_uri);
  back.searchParams.set('code', code);
  if (q.state !== undefined) back.searchParams.set('state', q.state);
  back.searchParams.set('iss', scenario === 'iss-mixup' ? state.otherIssuer : issuer);
  log(`authorize: scenario ${scenario}, client ${q.client_id}`);
  res.writeHead(302, { location: back.href, 'cache-control': 'no-store' });
  res.end();
}

/** Who is calling the token endpoint, and with which secret (if any). */
function clientAuth(req, form) {
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString();
    const i = decoded.indexOf(':');
    const unform = (v) => decodeURIComponent(v.replace(/\+/g, ' '));
    return { method: 'client_secret_basic', client_id: unform(decoded.slice(0, i)), secret: unform(decoded.slice(i + 1)) };
  }
  if (form.client_assertion) {
    const { sub } = jose.decodeJwt(form.client_assertion);
    return { method: 'private_key_jwt', client_id: sub ?? form.client_id };
  }
  if (form.client_secret) return { method: 'client_secret_post', client_id: form.client_id, secret: form.client_secret };
  return { method: 'none', client_id: form.client_id };
}

const tokenError = (res, error, description) => sendJson(res, 400, { error, error_description: description });

async function token(req, res) {
  const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
  const auth = clientAuth(req, form);
  const grant = codes.get(form.code);
  const logged = { ...form };
  if (logged.client_secret) logged.client_secret = '[redacted]';
  requestLog.push({
    at: new Date().toISOString(), endpoint: 'token', scenario: grant?.scenario ?? null, client_auth: auth.method, params: logged,
  });

  if (grant?.scenario === 'token-500') return sendJson(res, 500, { error: 'server_error' });
  if (grant?.scenario === 'token-slow') {
    log('token: token-slow, never answering');
    return undefined; // the connection stays open until the client gives up or we stop
  }
  if (form.grant_type !== 'authorization_code') return tokenError(res, 'unsupported_grant_type', 'only authorization_code');
  if (!grant) return tokenError(res, 'invalid_grant', 'unknown code');
  if (grant.used) {
    log(`token: code replayed (scenario ${grant.scenario})`);
    return tokenError(res, 'invalid_grant', 'code already used');
  }
  grant.used = true;
  if (auth.client_id !== grant.client_id) return tokenError(res, 'invalid_grant', 'code was issued to another client');
  if (form.redirect_uri !== grant.redirect_uri) return tokenError(res, 'invalid_grant', 'redirect_uri mismatch');

  // PKCE: checked whenever a challenge was sent; pkce-check also insists on one.
  if (grant.scenario === 'pkce-check' && (!grant.code_challenge || grant.code_challenge_method !== 'S256')) {
    return tokenError(res, 'invalid_grant', 'pkce-check: no S256 code_challenge was sent');
  }
  if (grant.code_challenge) {
    const expected = Buffer.from(grant.code_challenge);
    const actual = Buffer.from(s256(form.code_verifier ?? ''));
    if (!form.code_verifier || expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
      log('token: PKCE verifier does not match');
      return tokenError(res, 'invalid_grant', 'code_verifier does not match code_challenge');
    }
  }

  const secret = clients?.get(grant.client_id)?.client_secret ?? auth.secret;
  let id;
  try {
    id = await idToken(grant, secret);
  } catch (err) {
    return sendJson(res, 500, { error: 'server_error', error_description: err.message });
  }
  const accessToken = randomBytes(24).toString('base64url');
  accessTokens.set(accessToken, { sub: grant.sub, scenario: grant.scenario });
  log(`token: issued (scenario ${grant.scenario})`);
  return sendJson(res, 200, {
    access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: id, scope: 'openid',
  });
}

function userinfo(req, res) {
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const grant = accessTokens.get(bearer);
  requestLog.push({ at: new Date().toISOString(), endpoint: 'userinfo', scenario: grant?.scenario ?? null, params: {} });
  if (!grant) {
    res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
    return res.end();
  }
  const sub = grant.scenario === 'userinfo-sub-mismatch' ? `${grant.sub}-someone-else` : grant.sub;
  return sendJson(res, 200, { ...userinfoClaims, sub });
}

async function control(req, res, url) {
  if (url.pathname === '/control/log') {
    if (req.method === 'DELETE') requestLog.length = 0;
    const endpoint = url.searchParams.get('endpoint');
    return sendJson(res, 200, endpoint ? requestLog.filter((e) => e.endpoint === endpoint) : requestLog);
  }
  if (url.pathname === '/control/scenario') {
    if (req.method === 'POST') {
      const body = JSON.parse((await readBody(req)) || '{}');
      if (body.scenario !== undefined) {
        if (!SCENARIOS.includes(body.scenario)) return sendJson(res, 400, { error: `unknown scenario ${body.scenario}`, scenarios: SCENARIOS });
        state.scenario = body.scenario;
      }
      if (body.other_issuer !== undefined) state.otherIssuer = body.other_issuer;
      if (body.discovery_500 !== undefined) state.discovery500 = Boolean(body.discovery_500);
      log(`control: ${JSON.stringify(state)}`);
    }
    return sendJson(res, 200, {
      scenario: state.scenario, other_issuer: state.otherIssuer, discovery_500: state.discovery500, scenarios: SCENARIOS,
    });
  }
  return sendJson(res, 404, { error: 'not_found' });
}

async function handle(req, res) {
  const url = new URL(req.url, issuer);
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /.well-known/openid-configuration':
      if (state.discovery500) return sendJson(res, 500, { error: 'server_error' });
      return sendJson(res, 200, discovery());
    case 'GET /jwks': return sendJson(res, 200, { keys: [publicJwk] });
    case 'GET /authorize': return authorize(res, url);
    case 'POST /token': return token(req, res);
    case 'GET /userinfo': case 'POST /userinfo': return userinfo(req, res);
    default:
      if (url.pathname.startsWith('/control/')) return control(req, res, url);
      return sendJson(res, 404, { error: 'not_found' });
  }
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    log(`error: ${err.stack}`);
    if (!res.headersSent) sendJson(res, err.status ?? 500, { error: 'server_error', error_description: err.message });
  });
});
exitOnSignals(NAME, server);

const issuerFlag = flags.issuer?.replace(/\/$/, '');
const base = await listen(server, flags.port ?? (issuerFlag ? new URL(issuerFlag).port : 0));
issuer = issuerFlag ?? base;
log(`issuer ${issuer}; default scenario ${state.scenario}${state.discovery500 ? '; discovery answers 500' : ''}`);
announce(issuer);

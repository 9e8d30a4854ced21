#!/usr/bin/env node
// A department's web application signing citizens in through the broker as its OpenID Provider
// (FAPI 2.0), the way an integrator would build it: openid-client 6, unchanged, as a library.
//
//   node rp.mjs --issuer URL --client-id ID --key private-jwk.json [--port 0]
//
// discovery (/.well-known/openid-configuration) -> PAR (private_key_jwt, DPoP, PKCE S256, the
// `claims` parameter with verified_claims, `purpose`) -> the citizen's browser at the broker ->
// /callback (RFC 9207 `iss` checked, code exchanged with DPoP, ID token validated by openid-client
// with its signature checked against the broker's JWKS) -> userinfo (DPoP) -> refresh (rotated)
// -> RP-initiated logout URL; back-channel logout tokens received at /backchannel-logout and
// verified with jose (typ logout+jwt, the broker's JWKS) before they are recorded.
//
// Routes (127.0.0.1 only):
//   GET  /callback               the redirect URI; answers a small HTML page
//   GET  /logged-out             the post-logout redirect URI; records `state`
//   POST /backchannel-logout     the back-channel logout URI (form `logout_token=...`)
//   POST /control/authorize      {scope, claims, purpose, prompt?, acr_values?, max_age?, ui_locales?}
//                                -> {url, state}: a pushed request; `url` is for the browser
//   POST /control/userinfo       {state} -> {ok, status?, error?, userinfo?}
//   POST /control/refresh        {state} -> {ok, status?, error?, tokens?}
//   POST /control/logout-url     {state, post_logout_redirect_uri?} -> {url, state}
//   GET  /control/status         {flows: {state: flow}, logouts: [...], loggedOut: [...], callbackErrors: [...]}
// The discovery happens at the first control call (the broker may start after this peer).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import * as jose from 'jose';
import * as client from 'openid-client';

import {
  announce, die, exitOnSignals, isLoopbackHttp, listen, logger, parseFlags, readBody, readJson, sendJson,
} from './lib/common.mjs';

const NAME = 'rp';
const log = logger(NAME);

const flags = parseFlags({
  port: { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  key: { type: 'string' },
});
for (const required of ['issuer', 'client-id', 'key']) {
  if (!flags[required]) die(NAME, `--${required} is required`);
}

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const issuer = new URL(flags.issuer);
const clientId = flags['client-id'];
const jwk = readJson(flags.key);
const clientKey = await jose.importJWK(jwk, jwk.alg ?? 'ES256');

let base; // this peer's URL, known once listening
let config; // openid-client Configuration, after discovery
let brokerKeys; // jose remote JWKS of the broker

async function configured() {
  if (config) return config;
  config = await client.discovery(
    issuer,
    clientId,
    undefined,
    client.PrivateKeyJwt({ key: clientKey, kid: jwk.kid }),
    isLoopbackHttp(issuer) ? { execute: [client.allowInsecureRequests] } : undefined,
  );
  // Checks the ID token's signature against the broker's JWKS too (openid-client otherwise
  // trusts what came back over TLS from the token endpoint).
  client.enableNonRepudiationChecks(config);
  brokerKeys = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri), { cooldownDuration: 0 });
  return config;
}

/** OAuth error fields, HTTP status and the library's code, for the Rust side to assert on. */
function describe(err) {
  return {
    error: err.error ?? err.cause?.error ?? err.code ?? err.name,
    error_description: err.error_description ?? err.cause?.error_description ?? err.message,
    status: err.status ?? err.response?.status ?? err.cause?.status,
    code: err.code,
  };
}

// state -> {request, verifier, nonce, dpop, status, callback, tokens, claims, userinfo, error}
const flows = new Map();
const logouts = []; // back-channel logout tokens: {valid, claims?, error?}
const seenLogoutJtis = new Set();
const loggedOut = []; // states seen at the post-logout redirect URI
const callbackErrors = []; // callbacks that named no known flow

/** What a flow shows in /control/status (the tokens too: the Rust side asserts on them). */
function view(flow) {
  return {
    state: flow.state,
    status: flow.status,
    request: flow.request,
    callback: flow.callback,
    tokens: flow.tokens,
    claims: flow.claims,
    idTokenHeader: flow.idTokenHeader,
    userinfo: flow.userinfo,
    refreshes: flow.refreshes,
    error: flow.error,
  };
}

function tokensView(tokens) {
  return {
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    scope: tokens.scope,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    id_token: tokens.id_token,
  };
}

async function authorize(body) {
  const cfg = await configured();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const verifier = client.randomPKCECodeVerifier();
  const dpop = client.getDPoPHandle(cfg, await client.randomDPoPKeyPair('ES256'));
  const parameters = {
    redirect_uri: `${base}/callback`,
    scope: body.scope ?? 'openid',
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  };
  if (body.claims) parameters.claims = typeof body.claims === 'string' ? body.claims : JSON.stringify(body.claims);
  for (const name of ['purpose', 'prompt', 'acr_values', 'max_age', 'ui_locales', 'login_hint']) {
    if (body[name] !== undefined) parameters[name] = String(body[name]);
  }
  const flow = {
    state, nonce, verifier, dpop, request: parameters, status: 'pushed', refreshes: [],
  };
  flows.set(state, flow);
  try {
    const url = await client.buildAuthorizationUrlWithPAR(cfg, parameters, { DPoP: dpop });
    return { status: 200, body: { url: url.href, state } };
  } catch (err) {
    flow.status = 'error';
    flow.error = { stage: 'par', ...describe(err) };
    return { status: 200, body: { state, error: flow.error } };
  }
}

async function callback(req, res) {
  const current = new URL(req.url, base);
  const params = Object.fromEntries(current.searchParams);
  const flow = flows.get(params.state ?? '');
  if (!flow) {
    callbackErrors.push({ params });
    return page(res, 400, 'Unknown sign-in', 'This answer names no sign-in this application started.');
  }
  flow.callback = params;
  const cfg = await configured();
  // RFC 9207: the broker says it supports `iss`, so it must be present and be the issuer.
  // openid-client checks the same; this says so in our own words in the status.
  if (params.iss !== cfg.serverMetadata().issuer) {
    flow.status = 'error';
    flow.error = { stage: 'callback', error: 'iss_mismatch', error_description: `iss ${JSON.stringify(params.iss)}` };
  }
  try {
    const tokens = await client.authorizationCodeGrant(cfg, current, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    }, undefined, { DPoP: flow.dpop });
    if (flow.status === 'error') throw Object.assign(new Error('iss check failed'), flow.error);
    flow.tokens = tokensView(tokens);
    flow.claims = tokens.claims();
    flow.idTokenHeader = jose.decodeProtectedHeader(tokens.id_token);
    const info = await client.fetchUserInfo(cfg, tokens.access_token, flow.claims.sub, { DPoP: flow.dpop });
    flow.userinfo = info;
    flow.status = 'done';
    return page(res, 200, 'Signed in', 'The application has what it asked for.');
  } catch (err) {
    flow.status = 'error';
    flow.error = flow.error ?? { stage: params.error ? 'authorization' : 'token', ...describe(err) };
    return page(res, 200, 'Sign-in failed', 'The application did not sign you in.');
  }
}

async function userinfo(body) {
  const flow = flows.get(body.state ?? '');
  if (!flow?.tokens) return { status: 404, body: { error: 'no tokens for this state' } };
  try {
    const info = await client.fetchUserInfo(await configured(), flow.tokens.access_token, flow.claims.sub, { DPoP: flow.dpop });
    return { status: 200, body: { ok: true, userinfo: info } };
  } catch (err) {
    return { status: 200, body: { ok: false, ...describe(err) } };
  }
}

async function refresh(body) {
  const flow = flows.get(body.state ?? '');
  if (!flow?.tokens?.refresh_token) return { status: 404, body: { error: 'no refresh token for this state' } };
  const used = flow.tokens.refresh_token;
  try {
    const tokens = await client.refreshTokenGrant(await configured(), used, undefined, { DPoP: flow.dpop });
    const fresh = tokensView(tokens);
    flow.refreshes.push({ ok: true, used, tokens: fresh });
    // Keep the previous refresh token if none came back (no rotation); the Rust side asserts.
    flow.tokens = { ...fresh, refresh_token: fresh.refresh_token ?? used, id_token: fresh.id_token ?? flow.tokens.id_token };
    return { status: 200, body: { ok: true, used, tokens: fresh } };
  } catch (err) {
    const failure = { ok: false, used, ...describe(err) };
    flow.refreshes.push(failure);
    return { status: 200, body: failure };
  }
}

async function logoutUrl(body) {
  const flow = flows.get(body.state ?? '');
  if (!flow?.tokens?.id_token) return { status: 404, body: { error: 'no ID token for this state' } };
  const state = client.randomState();
  const url = client.buildEndSessionUrl(await configured(), {
    id_token_hint: flow.tokens.id_token,
    post_logout_redirect_uri: body.post_logout_redirect_uri ?? `${base}/logged-out`,
    state,
  });
  return { status: 200, body: { url: url.href, state } };
}

/** OpenID Connect Back-Channel Logout 1.0 §2.6: validate, then answer 200 (or 400). */
async function backchannel(req, res) {
  const form = new URLSearchParams(await readBody(req));
  const token = form.get('logout_token');
  try {
    if (!token || form.getAll('logout_token').length !== 1) throw new Error('one logout_token is required');
    const cfg = await configured();
    const { payload, protectedHeader } = await jose.jwtVerify(token, brokerKeys, {
      issuer: cfg.serverMetadata().issuer,
      audience: clientId,
      typ: 'logout+jwt',
      algorithms: cfg.serverMetadata().id_token_signing_alg_values_supported ?? ['ES256'],
      requiredClaims: ['iat', 'exp', 'jti'],
      maxTokenAge: '2 minutes',
    });
    if (typeof payload.events?.[BACKCHANNEL_EVENT] !== 'object' || Array.isArray(payload.events[BACKCHANNEL_EVENT])) {
      throw new Error('no back-channel logout event');
    }
    if (!payload.sub && !payload.sid) throw new Error('neither sub nor sid');
    if ('nonce' in payload) throw new Error('a logout token never carries a nonce');
    if (seenLogoutJtis.has(payload.jti)) throw new Error('jti replayed');
    seenLogoutJtis.add(payload.jti);
    logouts.push({ valid: true, header: protectedHeader, claims: payload, contentType: req.headers['content-type'] });
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': 0 });
    res.end();
  } catch (err) {
    logouts.push({ valid: false, error: err.code ?? err.name, description: err.message });
    sendJson(res, 400, { error: 'invalid_request', error_description: err.message });
  }
}

function page(res, status, title, text) {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><main><h1>${title}</h1><p>${text}</p></main></body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

const control = {
  '/control/authorize': authorize,
  '/control/userinfo': userinfo,
  '/control/refresh': refresh,
  '/control/logout-url': logoutUrl,
};

const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  try {
    if (req.method === 'GET' && path === '/callback') return await callback(req, res);
    if (req.method === 'GET' && path === '/logged-out') {
      loggedOut.push({ state: new URL(req.url, 'http://x').searchParams.get('state'), at: Date.now() });
      return page(res, 200, 'Signed out', 'You are signed out of the application.');
    }
    if (req.method === 'POST' && path === '/backchannel-logout') return await backchannel(req, res);
    if (req.method === 'GET' && path === '/control/status') {
      return sendJson(res, 200, {
        flows: Object.fromEntries([...flows].map(([k, f]) => [k, view(f)])),
        logouts,
        loggedOut,
        callbackErrors,
      });
    }
    if (req.method === 'POST' && control[path]) {
      const text = await readBody(req);
      const { status, body } = await control[path](text ? JSON.parse(text) : {});
      return sendJson(res, status, body);
    }
    sendJson(res, 404, { error: 'not_found' });
  } catch (err) {
    log(`${req.method} ${path}: ${err.stack ?? err}`);
    sendJson(res, 500, { error: 'server_error', error_description: String(err.message ?? err), id: randomUUID() });
  }
});

base = await listen(server, flags.port);
exitOnSignals(NAME, server);
announce(base);

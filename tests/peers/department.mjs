#!/usr/bin/env node
// A government department's system calling the broker's API the way an
// integrator would: openid-client 6.9.0, unchanged, as a library.
//   discovery (OpenID, or RFC 8414 with --discovery oauth2) -> client_credentials grant (private_key_jwt) -> fetchProtectedResource
// Prints one JSON line and exits 0 when the API answered (whatever its status),
// or prints {"stage", "error", ...} and exits 1 when discovery or the token request failed.
import { readFileSync } from 'node:fs';

import * as jose from 'jose';
import * as client from 'openid-client';

import { die, isLoopbackHttp, parseFlags, readJson } from './lib/common.mjs';

const NAME = 'department';

const flags = parseFlags({
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  key: { type: 'string' },
  scope: { type: 'string' },
  get: { type: 'string' },
  post: { type: 'string' },
  body: { type: 'string' },
  'assertion-alg': { type: 'string' },
  'print-token': { type: 'boolean' },
  // The Accept header of the API call, e.g. `application/dc+sd-jwt` for an SD-JWT release.
  accept: { type: 'string' },
  // `oidc` (default: /.well-known/openid-configuration) or `oauth2` (RFC 8414,
  // /.well-known/oauth-authorization-server).
  discovery: { type: 'string' },
});
for (const required of ['issuer', 'client-id', 'key']) {
  if (!flags[required]) die(NAME, `--${required} is required`);
}
if (flags.get && flags.post) die(NAME, 'give --get or --post, not both');
if (flags.discovery && !['oidc', 'oauth2'].includes(flags.discovery)) {
  die(NAME, '--discovery is oidc or oauth2');
}

const out = (value, code) => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
  process.exit(code);
};

/** Error details worth showing: OAuth error fields, HTTP status, library code. */
function describe(stage, err) {
  return {
    stage,
    error: err.error ?? err.code ?? err.name,
    error_description: err.error_description ?? err.message,
    status: err.status ?? err.response?.status,
  };
}

// The private JWK; its `alg` (ES256, EdDSA, RS256, PS256) picks the signing algorithm.
const jwk = readJson(flags.key);
const alg = jwk.alg ?? ({ EC: 'ES256', OKP: 'EdDSA', RSA: 'RS256' })[jwk.kty];
const privateKey = await jose.importJWK(jwk, alg);

// openid-client labels Ed25519 client assertions "Ed25519" (RFC 9864); --assertion-alg EdDSA
// uses the library's documented modifyAssertion hook to send the older "EdDSA" label.
const assertionOptions = flags['assertion-alg']
  ? { [client.modifyAssertion]: (header) => { header.alg = flags['assertion-alg']; } }
  : undefined;

const issuer = new URL(flags.issuer);
const options = {
  ...(isLoopbackHttp(issuer) ? { execute: [client.allowInsecureRequests] } : {}),
  ...(flags.discovery ? { algorithm: flags.discovery } : {}),
};

let config;
try {
  config = await client.discovery(
    issuer,
    flags['client-id'],
    undefined,
    client.PrivateKeyJwt({ key: privateKey, kid: jwk.kid }, assertionOptions),
    options,
  );
} catch (err) {
  out(describe('discovery', err), 1);
}

let tokens;
try {
  tokens = await client.clientCredentialsGrant(config, flags.scope ? { scope: flags.scope } : {});
} catch (err) {
  out(describe('token', err), 1);
}
const token = {
  token_type: tokens.token_type,
  expires_in: tokens.expires_in,
  scope: tokens.scope,
  ...(flags['print-token'] ? { access_token: tokens.access_token } : {}),
};
if (!flags.get && !flags.post) out(token, 0);

// The API call. A 401/403 with WWW-Authenticate makes openid-client throw; the
// response is still what we report.
const path = flags.get ?? flags.post;
const method = flags.get ? 'GET' : 'POST';
const headers = new Headers();
if (flags.accept) headers.set('accept', flags.accept);
let body;
if (method === 'POST') {
  body = flags.body?.startsWith('@') ? readFileSync(flags.body.slice(1), 'utf8') : (flags.body ?? '{}');
  try { JSON.parse(body); } catch { die(NAME, '--body is not JSON'); }
  headers.set('content-type', 'application/json');
}

let response;
let challenge;
try {
  response = await client.fetchProtectedResource(config, tokens.access_token, new URL(path, issuer), method, body, headers);
} catch (err) {
  if (!(err instanceof client.WWWAuthenticateChallengeError)) out(describe('resource', err), 1);
  response = err.response;
  challenge = response.headers.get('www-authenticate');
}

const text = await response.text();
const result = {
  ...token,
  status: response.status,
  contentType: response.headers.get('content-type'),
  body: text,
};
if (challenge) result.wwwAuthenticate = challenge;
try {
  if (/json/.test(result.contentType ?? '')) result.json = JSON.parse(text);
} catch { /* body stays as text */ }
out(result, 0);

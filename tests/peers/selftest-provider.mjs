#!/usr/bin/env node
// Smoke test for provider.mjs: start it, run discovery and a full code flow
// with PKCE + login_hint through openid-client (following redirects with a
// cookie jar, no browser), exchange the code, read userinfo, sign out, stop it.
// Exits 0 when everything held.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as jose from 'jose';
import * as client from 'openid-client';

import { cookieFetch, counter, startPeer } from './lib/testkit.mjs';

const REDIRECT = 'http://127.0.0.1:9/callback';
const LOGGED_OUT = 'http://127.0.0.1:9/signed-out';
const SECRET = 'selftest-secret-0123456789abcdef';

const dir = mkdtempSync(join(tmpdir(), 'provider-selftest-'));
const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
const publicJwk = { ...(await jose.exportJWK(publicKey)), kid: 'rp1', alg: 'ES256', use: 'sig' };
writeFileSync(join(dir, 'clients.json'), JSON.stringify([
  { client_id: 'rp-secret', client_secret: SECRET, redirect_uris: [REDIRECT], post_logout_redirect_uris: [LOGGED_OUT] },
  { client_id: 'rp-jwt', jwks: { keys: [publicJwk] }, redirect_uris: [REDIRECT], id_token_signed_response_alg: 'RS256' },
]));
writeFileSync(join(dir, 'accounts.json'), JSON.stringify({
  alice: {
    given_name: 'Alice', family_name: 'Tremblay', birthdate: '1958-04-12',
    email: 'alice@example.org', email_verified: true,
    address: { street_address: '1 Main St', locality: 'Ottawa', region: 'ON', postal_code: 'K1A 0A1', country: 'CA' },
    phone_number: '+1 613 555 0100', acr: 'urn:example:loa:3',
  },
}));

const peer = await startPeer('provider.mjs', ['--port', '0', '--clients', join(dir, 'clients.json'), '--accounts', join(dir, 'accounts.json')]);
const t = counter();

/** Runs the code flow headlessly; returns {config, tokens, callback}. */
async function codeFlow(config, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid profile email address phone',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state, nonce, login_hint: 'alice', ...extra,
  });
  const { url: callback } = await cookieFetch().follow(url.href, REDIRECT);
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  return { tokens, callback: new URL(callback) };
}

try {
  const issuer = new URL(peer.url);
  const insecure = { execute: [client.allowInsecureRequests] };
  const secretRp = await client.discovery(issuer, 'rp-secret', SECRET, undefined, insecure);

  await t.check('discovery', async () => {
    const md = secretRp.serverMetadata();
    assert.equal(md.issuer, peer.url);
    assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(md.response_types_supported, ['code']);
    assert.equal(md.authorization_response_iss_parameter_supported, true);
    assert.ok(md.userinfo_endpoint.endsWith('/me'));
    assert.ok(md.end_session_endpoint);
  });

  let idToken;
  await t.check('code flow with PKCE, login_hint, client_secret_basic, ES256 ID token', async () => {
    const { tokens, callback } = await codeFlow(secretRp);
    assert.equal(callback.searchParams.get('iss'), peer.url);
    const header = jose.decodeProtectedHeader(tokens.id_token);
    assert.equal(header.alg, 'ES256');
    const claims = tokens.claims();
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.acr, 'urn:example:loa:3');
    const info = await client.fetchUserInfo(secretRp, tokens.access_token, claims.sub);
    assert.equal(info.given_name, 'Alice');
    assert.equal(info.address.locality, 'Ottawa');
    assert.equal(info.phone_number, '+1 613 555 0100');
    assert.equal(info.email_verified, true);
    idToken = tokens.id_token;
  });

  await t.check('authorization without PKCE is refused', async () => {
    const url = client.buildAuthorizationUrl(secretRp, { redirect_uri: REDIRECT, scope: 'openid', state: 's', login_hint: 'alice' });
    const { url: callback } = await cookieFetch().follow(url.href, REDIRECT);
    assert.equal(new URL(callback).searchParams.get('error'), 'invalid_request');
  });

  await t.check('unknown login_hint is denied', async () => {
    const url = client.buildAuthorizationUrl(secretRp, {
      redirect_uri: REDIRECT, scope: 'openid', state: 's', login_hint: 'nobody',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const { url: callback } = await cookieFetch().follow(url.href, REDIRECT);
    assert.equal(new URL(callback).searchParams.get('error'), 'access_denied');
  });

  await t.check('private_key_jwt client gets an RS256 ID token', async () => {
    const jwtRp = await client.discovery(issuer, 'rp-jwt', undefined, client.PrivateKeyJwt({ key: privateKey, kid: 'rp1' }), insecure);
    const { tokens } = await codeFlow(jwtRp);
    assert.equal(jose.decodeProtectedHeader(tokens.id_token).alg, 'RS256');
    assert.equal(tokens.claims().acr, 'urn:example:loa:3');
  });

  await t.check('RP-initiated logout redirects to post_logout_redirect_uri', async () => {
    const browser = cookieFetch();
    const url = client.buildEndSessionUrl(secretRp, { id_token_hint: idToken, post_logout_redirect_uri: LOGGED_OUT, state: 'bye' });
    const page = await (await browser.step(url.href)).text();
    const action = /action="([^"]+)"/.exec(page)[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)[1];
    const { url: landed } = await browser.follow(new URL(action, peer.url).href, LOGGED_OUT, {
      method: 'POST', body: new URLSearchParams({ xsrf, logout: 'yes' }),
    });
    assert.equal(new URL(landed).searchParams.get('state'), 'bye');
  });
} finally {
  const code = await peer.stop();
  await t.check('SIGTERM exits 0', () => assert.equal(code, 0));
  rmSync(dir, { recursive: true, force: true });
}
process.exit(t.finish());

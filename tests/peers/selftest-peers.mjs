#!/usr/bin/env node
// Self-test for the other peers: keygen + department (against a stand-in
// broker), verify-jws, receiver, pull-source, hostile-provider (with openid-client as the
// relying party, which must refuse every broken scenario) and the browser
// runner. Ends with "N passed, N failed"; exits 0 when all passed.
// `--skip-browser` leaves out the Chromium part.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as jose from 'jose';
import * as client from 'openid-client';

import { listen } from './lib/common.mjs';
import { cookieFetch, counter, runNode, startPeer } from './lib/testkit.mjs';
import { startFakeBroker } from './selftest/fake-broker.mjs';

const skipBrowser = process.argv.includes('--skip-browser');
const dir = mkdtempSync(join(tmpdir(), 'peers-selftest-'));
const t = counter();
const json = (text) => JSON.parse(text.trim().split('\n').pop());
const cleanups = [];

try {
  // ---- keygen + department --------------------------------------------------
  const keys = {};
  for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256']) {
    await t.check(`keygen ${alg}`, async () => {
      const r = await runNode('keygen.mjs', ['--alg', alg, '--kid', `k-${alg}`,
        '--out-private', join(dir, `${alg}.priv.json`), '--out-public', join(dir, `${alg}.pub.json`)]);
      assert.equal(r.code, 0, r.stderr);
      const pub = JSON.parse(readFileSync(join(dir, `${alg}.pub.json`), 'utf8'));
      assert.equal(pub.kid, `k-${alg}`);
      assert.equal(pub.alg, alg);
      assert.equal(pub.d, undefined);
      keys[alg] = pub;
    });
  }
  const broker = await startFakeBroker(Object.fromEntries(Object.entries(keys).map(([alg, pub]) => [`dept-${alg}`, pub])));
  cleanups.push(() => broker.close());

  for (const alg of Object.keys(keys)) {
    await t.check(`department ${alg}: GET with a client_credentials token`, async () => {
      const r = await runNode('department.mjs', ['--issuer', broker.url, '--client-id', `dept-${alg}`,
        '--key', join(dir, `${alg}.priv.json`), '--scope', 'attributes:read', '--get', '/api/v1/subjects/abc/attributes?claims=given_name&purpose=p']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const out = json(r.stdout);
      assert.equal(out.status, 200);
      assert.equal(out.contentType, 'application/jwt');
      assert.equal(out.token_type.toLowerCase(), 'bearer');
      assert.equal(out.expires_in, 300);
      assert.equal(jose.decodeJwt(out.body).sub, 'abc');
    });
  }
  await t.check('department: openid-client labels Ed25519 assertions "Ed25519"; --assertion-alg EdDSA relabels', async () => {
    const edHeaders = broker.assertions.filter((a) => a.payload.iss === 'dept-EdDSA').map((a) => a.header.alg);
    assert.deepEqual(edHeaders, ['Ed25519']);
    const r = await runNode('department.mjs', ['--issuer', broker.url, '--client-id', 'dept-EdDSA',
      '--key', join(dir, 'EdDSA.priv.json'), '--assertion-alg', 'EdDSA']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(broker.assertions.at(-1).header.alg, 'EdDSA');
    assert.equal(broker.assertions.at(-1).payload.aud, broker.url); // openid-client: aud = issuer
  });
  await t.check('department: POST with a JSON body', async () => {
    const r = await runNode('department.mjs', ['--issuer', broker.url, '--client-id', 'dept-ES256',
      '--key', join(dir, 'ES256.priv.json'), '--post', '/api/v1/subjects/abc/attributes', '--body', '{"event":"move"}']);
    assert.equal(r.code, 0, r.stderr);
    const out = json(r.stdout);
    assert.equal(out.status, 202);
    assert.deepEqual(out.json, { accepted: { event: 'move' } });
  });
  await t.check('department: a 403 with WWW-Authenticate is reported, not thrown', async () => {
    const r = await runNode('department.mjs', ['--issuer', broker.url, '--client-id', 'dept-ES256',
      '--key', join(dir, 'ES256.priv.json'), '--get', '/api/v1/subjects/abc/forbidden']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = json(r.stdout);
    assert.equal(out.status, 403);
    assert.equal(out.wwwAuthenticate, 'Bearer error="insufficient_scope"');
    assert.deepEqual(out.json, { error: 'insufficient_scope' });
  });
  await t.check('department: a key the broker does not know is refused at the token stage', async () => {
    const r = await runNode('department.mjs', ['--issuer', broker.url, '--client-id', 'dept-ES256',
      '--key', join(dir, 'PS256.priv.json'), '--get', '/api/v1/subjects/abc/attributes']);
    assert.equal(r.code, 1);
    const out = json(r.stdout);
    assert.equal(out.stage, 'token');
    assert.equal(out.error, 'invalid_client');
  });

  // ---- verify-jws -----------------------------------------------------------
  writeFileSync(join(dir, 'broker-jwks.json'), JSON.stringify(broker.jwks));
  const receipt = await broker.sign({ iss: broker.url, aud: 'citizen', jti: 'r1', consent: { purpose: 'p' } }, 'consent-receipt+jwt');
  await t.check('verify-jws: valid with a JWKS URL, typ, iss and aud', async () => {
    const r = await runNode('verify-jws.mjs', ['--jwks', `${broker.url}/jwks.json`, '--typ', 'application/consent-receipt+jwt',
      '--iss', broker.url, '--aud', 'citizen'], { input: receipt });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = json(r.stdout);
    assert.equal(out.valid, true);
    assert.equal(out.header.kid, 'broker-1');
    assert.equal(out.payload.jti, 'r1');
  });
  await t.check('verify-jws: wrong typ, wrong aud, tampered payload, HS256 are invalid', async () => {
    const file = ['--jwks', join(dir, 'broker-jwks.json')];
    const [h, , s] = receipt.split('.');
    const tampered = `${h}.${Buffer.from('{"jti":"r2"}').toString('base64url')}.${s}`;
    const hs = await new jose.SignJWT({ a: 1 }).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32));
    for (const [args, input] of [[['--typ', 'secevent+jwt'], receipt], [['--aud', 'someone'], receipt], [[], tampered], [[], hs]]) {
      const r = await runNode('verify-jws.mjs', [...file, ...args], { input });
      assert.equal(r.code, 1, `${args} ${r.stdout}`);
      assert.equal(json(r.stdout).valid, false);
    }
  });

  // ---- receiver -------------------------------------------------------------
  const receiver = await startPeer('receiver.mjs', ['--jwks', `${broker.url}/jwks.json`,
    '--mode', 'a=ok', '--mode', 'b=fail-then-ok:2', '--mode', 'c=never', '--mode', 'd=reject']);
  cleanups.push(() => receiver.stop());
  const set = (jti, aud) => broker.sign({
    iss: broker.url, aud, jti, iat: Math.floor(Date.now() / 1000),
    events: { 'https://schemas.example/event/address-changed': { subject: { format: 'opaque', id: 'x' } } },
  }, 'secevent+jwt');
  const push = async (path, body, signal) => fetch(`${receiver.url}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/secevent+jwt' }, body, signal,
  });
  const received = async (path) => (await fetch(`${receiver.url}/control/received?path=${path}`)).json();

  await t.check('receiver: ok answers 202 and dedupes by jti', async () => {
    const body = await set('j1', 'a');
    assert.equal((await push('/events/a', body)).status, 202);
    assert.equal((await push('/events/a', body)).status, 202);
    const list = await received('/events/a');
    assert.equal(list.length, 1);
    assert.equal(list[0].jti, 'j1');
    assert.equal(list[0].count, 2);
    assert.ok(list[0].events['https://schemas.example/event/address-changed']);
  });
  await t.check('receiver: fail-then-ok:2 answers 500, 500, 202', async () => {
    const body = await set('j2', 'b');
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await push('/events/b', body)).status);
    assert.deepEqual(statuses, [500, 500, 202]);
    assert.deepEqual((await received('b'))[0].statuses, [500, 500, 202]);
  });
  await t.check('receiver: reject answers 400 access_denied; never does not answer', async () => {
    const r = await push('/events/d', await set('j3', 'd'));
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), { err: 'access_denied', description: 'this department refuses the event' });
    await assert.rejects(push('/events/c', await set('j4', 'c'), AbortSignal.timeout(700)), /aborted|timeout/i);
    assert.equal((await received('c'))[0].count, 1);
  });
  await t.check('receiver: a SET signed by another key is 400 invalid_key and not stored', async () => {
    const { privateKey } = await jose.generateKeyPair('ES256');
    const forged = await new jose.SignJWT({ jti: 'j5', events: {} }).setProtectedHeader({ alg: 'ES256', kid: 'broker-1', typ: 'secevent+jwt' }).sign(privateKey);
    const r = await push('/events/a', forged);
    assert.equal(r.status, 400);
    assert.equal((await r.json()).err, 'invalid_key');
    assert.equal((await received('a')).length, 1);
    assert.equal((await (await fetch(`${receiver.url}/control/rejected?path=a`)).json()).length, 1);
  });
  await t.check('receiver: SIGTERM exits 0 with a connection still hanging', async () => {
    push('/events/c', await set('j6', 'c')).catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await receiver.stop(), 0);
  });

  // ---- pull-source -----------------------------------------------------------
  const feed = await startPeer('pull-source.mjs', ['--token', 'feed-token']);
  cleanups.push(() => feed.stop());
  const read = (since, token = 'feed-token') => fetch(
    `${feed.url}/tuo/changes?limit=10${since ? `&since=${since}` : ''}`,
    { headers: { authorization: `Bearer ${token}` } },
  );
  const control = (path, body) => fetch(`${feed.url}/control/${path}`, { method: 'POST', body: JSON.stringify(body) });
  await t.check('pull-source: pages in turn, has_more until the last, then the cursor stays', async () => {
    await control('pages', { changes: [{ subject: 's1', attribute: 'address', value: { locality: 'A' } }] });
    await control('pages', { changes: [] });
    assert.deepEqual(await (await read()).json(), { changes: [{ subject: 's1', attribute: 'address', value: { locality: 'A' } }], next_cursor: 'c1', has_more: true });
    assert.deepEqual(await (await read('c1')).json(), { changes: [], next_cursor: 'c2', has_more: false });
    assert.deepEqual(await (await read('c2')).json(), { changes: [], next_cursor: 'c2', has_more: false });
  });
  await t.check('pull-source: glitches answer once each; a wrong token is 401; requests are recorded', async () => {
    await control('glitch', { status: 503, retry_after: 1, times: 1 });
    await control('glitch', { malformed: true });
    const unavailable = await read('c2');
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.headers.get('retry-after'), '1');
    assert.deepEqual(await (await read('c2')).json(), { changes: 'not a list' });
    assert.equal((await read('c2', 'wrong')).status, 401);
    assert.equal((await read('c2')).status, 200);
    const requests = await (await fetch(`${feed.url}/control/requests`)).json();
    assert.deepEqual(requests.map((r) => [r.since, r.status, r.authorized]).slice(-4),
      [['c2', 503, true], ['c2', 200, true], ['c2', 401, false], ['c2', 200, true]]);
    assert.equal(await feed.stop(), 0);
  });

  // ---- hostile-provider ------------------------------------------------------
  const REDIRECT = 'http://127.0.0.1:9/cb';
  const SECRET = 'hostile-selftest-secret-0123456789';
  writeFileSync(join(dir, 'hostile-clients.json'), JSON.stringify([{ client_id: 'rp', client_secret: SECRET, redirect_uris: [REDIRECT] }]));
  const hostile = await startPeer('hostile-provider.mjs', ['--clients', join(dir, 'hostile-clients.json')]);
  cleanups.push(() => hostile.stop());
  const insecure = { execute: [client.allowInsecureRequests] };
  const rp = await client.discovery(new URL(hostile.url), 'rp', SECRET, undefined, insecure);
  // openid-client skips ID token signature checks for tokens fetched straight from the
  // token endpoint (OIDC Core 3.1.3.7) unless asked; the broker must not skip them.
  client.enableNonRepudiationChecks(rp);

  /** A code flow as a careful relying party; returns the callback URL and an exchange function. */
  async function authorize(hint) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: REDIRECT, scope: 'openid profile', state, nonce, login_hint: hint,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const { url: callback } = await cookieFetch().follow(url.href, REDIRECT);
    const exchange = (v = verifier) => client.authorizationCodeGrant(rp, new URL(callback), {
      pkceCodeVerifier: v, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    });
    return { callback: new URL(callback), exchange, verifier };
  }

  await t.check('hostile ok: accepted, and the token request log holds the PKCE verifier', async () => {
    const { exchange, verifier } = await authorize('ok:user-1');
    const tokens = await exchange();
    assert.equal(tokens.claims().sub, 'user-1');
    await client.fetchUserInfo(rp, tokens.access_token, 'user-1');
    const log = await (await fetch(`${hostile.url}/control/log?endpoint=token`)).json();
    assert.equal(log.at(-1).params.code_verifier, verifier);
    assert.equal(log.at(-1).client_auth, 'client_secret_post'); // openid-client's default with a secret
  });
  await t.check('hostile pkce-check: accepted with the right verifier, invalid_grant with a wrong one', async () => {
    await (await authorize('pkce-check')).exchange();
    await assert.rejects((await authorize('pkce-check')).exchange(client.randomPKCECodeVerifier()), (e) => e.error === 'invalid_grant');
  });
  await t.check('hostile code-replay: a second use of a code is invalid_grant', async () => {
    const { exchange } = await authorize('code-replay');
    await exchange();
    await assert.rejects(exchange(), (e) => e.error === 'invalid_grant');
  });
  for (const scenario of ['alg-none', 'hs256-client-secret', 'unknown-kid', 'bad-signature', 'wrong-iss', 'wrong-aud',
    'multi-aud-no-azp', 'expired', 'nonce-mismatch', 'nonce-missing', 'token-500', 'iss-mixup']) {
    await t.check(`hostile ${scenario}: openid-client refuses it`, async () => {
      const { exchange } = await authorize(scenario);
      await assert.rejects(exchange(), (e) => { console.log(`    (${scenario}: ${e.code ?? e.error}: ${e.message}${e.cause?.message ? ` / ${e.cause.message}` : ''})`); return true; });
    });
  }
  await t.check('hostile hs256-client-secret: the ID token really is HS256 over the client secret', async () => {
    const { callback, verifier } = await authorize('hs256-client-secret');
    const r = await fetch(`${hostile.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`rp:${SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code'), redirect_uri: REDIRECT, code_verifier: verifier }),
    });
    const { id_token: idToken } = await r.json();
    const { protectedHeader } = await jose.jwtVerify(idToken, new TextEncoder().encode(SECRET), { audience: 'rp' });
    assert.equal(protectedHeader.alg, 'HS256');
  });
  await t.check('hostile iat-future: iat is an hour ahead (openid-client itself does not check iat)', async () => {
    const tokens = await (await authorize('iat-future')).exchange();
    assert.ok(tokens.claims().iat > Date.now() / 1000 + 3500);
  });
  await t.check('hostile userinfo-sub-mismatch: ID token fine, userinfo sub differs and is refused', async () => {
    const tokens = await (await authorize('userinfo-sub-mismatch:u9')).exchange();
    await assert.rejects(client.fetchUserInfo(rp, tokens.access_token, tokens.claims().sub));
  });
  await t.check('hostile token-slow: no answer within 1.5 s', async () => {
    const { callback, verifier } = await authorize('token-slow');
    await assert.rejects(fetch(`${hostile.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`rp:${SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code'), redirect_uri: REDIRECT, code_verifier: verifier }),
      signal: AbortSignal.timeout(1500),
    }), /aborted|timeout/i);
  });
  await t.check('hostile iss-mixup names the other issuer; POST /control/scenario switches the default', async () => {
    const { callback } = await authorize('iss-mixup');
    assert.equal(callback.searchParams.get('iss'), 'https://attacker.example');
    const set = await fetch(`${hostile.url}/control/scenario`, { method: 'POST', body: JSON.stringify({ scenario: 'wrong-aud' }) });
    assert.equal((await set.json()).scenario, 'wrong-aud');
    await assert.rejects((await authorize(undefined)).exchange());
    await fetch(`${hostile.url}/control/scenario`, { method: 'POST', body: JSON.stringify({ scenario: 'ok' }) });
    await (await authorize(undefined)).exchange();
  });
  await t.check('hostile --discovery-500: discovery fails', async () => {
    const broken = await startPeer('hostile-provider.mjs', ['--discovery-500']);
    try {
      await assert.rejects(client.discovery(new URL(broken.url), 'rp', SECRET, undefined, insecure));
    } finally {
      assert.equal(await broken.stop(), 0);
    }
  });

  // ---- browser -------------------------------------------------------------
  if (!skipBrowser) {
    const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><main>${body}</main></body></html>`;
    const site = createServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'" });
      if (url.pathname === '/cb') return res.end(page('Callback', '<h1>Back at the relying party</h1>'));
      if (url.pathname === '/thanks') return res.end(page('Thanks', `<h1>Thank you, ${url.searchParams.get('given_name')?.replace(/[<&]/g, '')}</h1>`));
      return res.end(page('Your name', `<h1>Tell us once</h1><img src="/logo.png">
        <form action="/thanks" method="get"><label for="gn">Given name</label><input id="gn" name="given_name"><button>Continue</button></form>`));
    });
    const siteUrl = await listen(site, 0);
    cleanups.push(() => { site.closeAllConnections(); site.close(); });
    await t.check('run-browser-script: scenario against a static page, with axe', async () => {
      const r = await runNode('run-browser-script.mjs', ['examples/scenario-static-page.mjs', JSON.stringify({ url: siteUrl, name: 'Zoë' })]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const out = json(r.stdout);
      assert.equal(out.heading, 'Tell us once');
      assert.equal(out.greeting, 'Thank you, Zoë');
      assert.ok(out.violations.includes('image-alt'), JSON.stringify(out.violations)); // the <img> has no alt
    });
    await t.check('run-browser-script: a failing scenario exits 1 and leaves a screenshot', async () => {
      const shots = join(dir, 'shots');
      const r = await runNode('run-browser-script.mjs', ['examples/scenario-fails.mjs', JSON.stringify({ url: siteUrl }), '--screenshot-dir', shots]);
      assert.equal(r.code, 1);
      const out = json(r.stdout);
      assert.ok(out.error);
      assert.ok(out.screenshot && existsSync(out.screenshot), r.stdout);
    });
    await t.check('provider.mjs: a browser signs in through the login form (no login_hint)', async () => {
      writeFileSync(join(dir, 'browser-clients.json'), JSON.stringify([{ client_id: 'web', client_secret: SECRET, redirect_uris: [`${siteUrl}/cb`] }]));
      const provider = await startPeer('provider.mjs', ['--clients', join(dir, 'browser-clients.json'), '--accounts', 'examples/accounts.json']);
      try {
        const config = await client.discovery(new URL(provider.url), 'web', SECRET, undefined, insecure);
        const verifier = client.randomPKCECodeVerifier();
        const authUrl = client.buildAuthorizationUrl(config, {
          redirect_uri: `${siteUrl}/cb`, scope: 'openid profile', state: 'st', nonce: 'nn',
          code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
        }).href;
        const r = await runNode('run-browser-script.mjs', ['examples/scenario-provider-login.mjs',
          JSON.stringify({ authUrl, account: 'bob', redirectPrefix: `${siteUrl}/cb` })]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const params = json(r.stdout);
        assert.equal(params.iss, provider.url);
        const callback = new URL(`${siteUrl}/cb?${new URLSearchParams(params)}`);
        const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'st', expectedNonce: 'nn' });
        assert.equal(tokens.claims().sub, 'bob');
        assert.equal(tokens.claims().acr, 'urn:example:loa:3');
      } finally {
        assert.equal(await provider.stop(), 0);
      }
    });
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(t.finish());

// A stand-in for the broker, only for the peers' own self-test: discovery,
// JWKS, a client_credentials token endpoint checking private_key_jwt, one
// protected API route, and a signer for SETs / receipts.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

import * as jose from 'jose';

import { listen, readBody, sendJson } from '../lib/common.mjs';

/** clients: {client_id: public JWK}. Resolves with {url, sign, assertions, close}. */
export async function startFakeBroker(clients) {
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256');
  const kid = 'broker-1';
  const jwks = { keys: [{ ...(await jose.exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };
  const seenJti = new Set();
  const assertions = []; // {header, payload} of each client assertion received
  let url;

  const sign = (payload, typ = 'JWT') => new jose.SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ }).sign(privateKey);

  async function token(req, res) {
    const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
    const fail = (error, status = 400) => sendJson(res, status, { error, error_description: error });
    if (form.grant_type !== 'client_credentials') return fail('unsupported_grant_type');
    if (form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return fail('invalid_client', 401);
    const header = jose.decodeProtectedHeader(form.client_assertion);
    const unverified = jose.decodeJwt(form.client_assertion);
    assertions.push({ header, payload: unverified });
    const jwk = clients[unverified.iss];
    if (!jwk) return fail('invalid_client', 401);
    try {
      const key = await jose.importJWK(jwk, jwk.alg);
      const { payload } = await jose.jwtVerify(form.client_assertion, key, {
        issuer: unverified.iss, subject: unverified.iss, audience: [url, `${url}/oauth2/token`],
        algorithms: ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'],
      });
      if (!payload.jti || seenJti.has(payload.jti)) return fail('invalid_client', 401);
      seenJti.add(payload.jti);
    } catch {
      return fail('invalid_client', 401);
    }
    const accessToken = await new jose.SignJWT({ client_id: unverified.iss, scope: form.scope ?? '' })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(url).setAudience(url).setIssuedAt().setExpirationTime('5m').setJti(randomBytes(8).toString('hex'))
      .sign(privateKey);
    return sendJson(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 300, scope: form.scope });
  }

  async function api(req, res, path) {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    try {
      await jose.jwtVerify(bearer ?? '', jose.createLocalJWKSet(jwks), { issuer: url, audience: url });
    } catch {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
      return res.end();
    }
    if (path.endsWith('/forbidden')) {
      res.writeHead(403, { 'www-authenticate': 'Bearer error="insufficient_scope"', 'content-type': 'application/json' });
      return res.end('{"error":"insufficient_scope"}');
    }
    if (req.method === 'POST') return sendJson(res, 202, { accepted: JSON.parse(await readBody(req)) });
    const jwt = await sign({ iss: url, sub: path.split('/')[4], verified_claims: { claims: { given_name: 'Alice' } } });
    res.writeHead(200, { 'content-type': 'application/jwt' });
    return res.end(jwt);
  }

  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/.well-known/openid-configuration') {
      return sendJson(res, 200, {
        issuer: url, token_endpoint: `${url}/oauth2/token`, jwks_uri: `${url}/jwks.json`,
        grant_types_supported: ['client_credentials'], token_endpoint_auth_methods_supported: ['private_key_jwt'],
        response_types_supported: ['code'], subject_types_supported: ['pairwise'], id_token_signing_alg_values_supported: ['ES256'],
      });
    }
    if (path === '/jwks.json') return sendJson(res, 200, jwks);
    if (path === '/oauth2/token' && req.method === 'POST') return token(req, res);
    if (path.startsWith('/api/v1/subjects/')) return api(req, res, path);
    return sendJson(res, 404, { error: 'not_found' });
  });
  url = await listen(server, 0);
  return {
    url, sign, assertions, jwks,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

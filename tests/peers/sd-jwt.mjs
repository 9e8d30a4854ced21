#!/usr/bin/env node
// A department passing part of an SD-JWT release on, and the third party checking it, with an
// implementation independent of the broker's: @sd-jwt/core 0.19.0 (RFC 9901) and
// @sd-jwt/crypto-nodejs, signatures by node:crypto.
//
//   --in <file|->        the department's release: an SD-JWT (`…~`), or department.mjs's JSON
//                        line (its `body`); `-` reads standard input
//   --key <file>         the department's private JWK (its registered key, bound in `cnf.jwk`)
//   --claims birthdate   names inside `verified_claims[*].claims` to disclose (comma-separated)
//   --issuer <url>       the broker: its keys are read from <issuer>/jwks.json
//   --audience, --nonce  what the verifier asked the Key Binding JWT to carry
//   --tampering          also try the attacks a verifier must refuse, and report each
//
// Prints one JSON line: {presentation, verified: {ok, payload | error}, tampering: {…}} and
// exits 0 when the honest presentation verified and every attack was refused, 1 otherwise.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { SDJwtInstance } from '@sd-jwt/core';
import { digest, generateSalt } from '@sd-jwt/crypto-nodejs';

import { die, parseFlags, readJson } from './lib/common.mjs';

const NAME = 'sd-jwt';
const MAX_KB_AGE_SECS = 300;

const flags = parseFlags({
  in: { type: 'string' },
  key: { type: 'string' },
  claims: { type: 'string' },
  issuer: { type: 'string' },
  audience: { type: 'string' },
  nonce: { type: 'string' },
  tampering: { type: 'boolean' },
}, { defaults: { claims: 'birthdate', audience: 'https://contractor.example', nonce: 'n-0S6_WzA2Mj' } });
for (const required of ['in', 'key', 'issuer']) {
  if (!flags[required]) die(NAME, `--${required} is required`);
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const decodePart = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/** node:crypto parameters for a JWS algorithm. */
function scheme(alg) {
  switch (alg) {
    case 'ES256': return { hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' } };
    case 'EdDSA': case 'Ed25519': return { hash: null, options: {} };
    case 'RS256': return { hash: 'sha256', options: {} };
    case 'PS256': return { hash: 'sha256', options: { padding: 6, saltLength: 32 } };
    default: throw new Error(`algorithm ${alg} is not accepted`);
  }
}

function verifyWith(jwk, alg, data, signature) {
  if (jwk.alg && jwk.alg !== alg && !(jwk.alg === 'EdDSA' && alg === 'Ed25519')) return false;
  const { hash, options } = scheme(alg);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  return verify(hash, Buffer.from(data), { key, ...options }, Buffer.from(signature, 'base64url'));
}

// --- the department: its release, its key ---
const raw = readFileSync(flags.in === '-' ? 0 : flags.in, 'utf8').trim();
const issued = raw.startsWith('{') ? JSON.parse(raw).body : raw;
if (typeof issued !== 'string' || !issued.endsWith('~')) die(NAME, '--in holds no SD-JWT issuance', 1);
const holderJwk = readJson(flags.key);
const holderAlg = holderJwk.alg ?? ({ EC: 'ES256', OKP: 'EdDSA', RSA: 'RS256' })[holderJwk.kty];
const holderKey = createPrivateKey({ key: holderJwk, format: 'jwk' });
const kbSigner = (data) => {
  const { hash, options } = scheme(holderAlg);
  return b64url(sign(hash, Buffer.from(data), { key: holderKey, ...options }));
};

// --- the verifier: the broker's published keys ---
const jwksUrl = new URL('/jwks.json', flags.issuer);
const jwks = await (await fetch(jwksUrl)).json();

/** Checks the issuer-signed JWT's header before any signature: explicit type, a key we know. */
function issuerKey(presentation) {
  const header = decodePart(presentation.split('~')[0].split('.')[0]);
  if (header.typ !== 'dc+sd-jwt') throw new Error(`typ ${header.typ} is not dc+sd-jwt`);
  if (header.alg !== 'ES256') throw new Error(`alg ${header.alg} is not ES256`);
  const key = jwks.keys.find((k) => k.kid === header.kid);
  if (!key) throw new Error('no broker key with that kid');
  return key;
}

/**
 * RFC 9901 §7.1: a disclosure that no digest references — in the issuer-signed payload or in
 * another presented disclosure — makes the whole SD-JWT invalid. @sd-jwt/core 0.19.0 skips such
 * a disclosure silently, so the verifier checks it itself.
 */
function requireReferenced(presentation) {
  const parts = presentation.split('~');
  const disclosures = parts.slice(1, -1);
  const payload = JSON.stringify(decodePart(parts[0].split('.')[1]));
  const decoded = disclosures.map((d) => JSON.stringify(decodePart(d)));
  disclosures.forEach((d, index) => {
    const hash = `"${b64url(digest(d, 'sha-256'))}"`;
    const referenced = payload.includes(hash) || decoded.some((text, other) => other !== index && text.includes(hash));
    if (!referenced) throw new Error(`disclosure ${index} is not referenced by any digest`);
  });
}

const hasher = (data, alg) => digest(data, alg);
const holder = new SDJwtInstance({
  hasher,
  saltGenerator: generateSalt,
  kbSigner,
  kbSignAlg: holderAlg,
});

/** The third party: key binding required, decided before looking (RFC 9901 §7.3). */
async function check(presentation, { audience, nonce }) {
  const key = issuerKey(presentation);
  requireReferenced(presentation);
  const verifier = new SDJwtInstance({
    hasher,
    verifier: (data, signature) => verifyWith(key, 'ES256', data, signature),
    kbVerifier: (data, signature, payload) => {
      const bound = payload?.cnf?.jwk;
      if (!bound) throw new Error('no holder key bound (cnf.jwk)');
      const kbHeader = decodePart(data.split('.')[0]);
      return verifyWith(bound, kbHeader.alg, data, signature);
    },
  });
  const now = Math.floor(Date.now() / 1000);
  const { payload, kb } = await verifier.verify(presentation, {
    keyBindingNonce: nonce,
    currentDate: now,
    requiredClaimKeys: ['iss', 'exp', 'cnf'],
  });
  if (!kb) throw new Error('key binding missing');
  // What @sd-jwt/core leaves to its caller: the audience, the issuer, freshness.
  if (kb.payload.aud !== audience) throw new Error('key binding jwt is for another audience');
  if (Math.abs(now - kb.payload.iat) > MAX_KB_AGE_SECS) throw new Error('key binding jwt is stale');
  if (payload.iss !== new URL(flags.issuer).origin && payload.iss !== flags.issuer) {
    throw new Error('unexpected issuer');
  }
  return payload;
}

async function attempt(presentation, expected) {
  try {
    return { ok: true, payload: await check(presentation, expected) };
  } catch (err) {
    return { ok: false, error: err.message };
  }
}

// --- the honest presentation: only the chosen claims, bound to this verifier ---
const wanted = flags.claims.split(',').map((s) => s.trim()).filter(Boolean);
const claims = await holder.getClaims(issued);
const frame = { verified_claims: {} };
(claims.verified_claims ?? []).forEach((element, index) => {
  const shown = wanted.filter((name) => name in (element.claims ?? {}));
  if (shown.length) frame.verified_claims[index] = { claims: Object.fromEntries(shown.map((n) => [n, true])) };
});
if (Object.keys(frame.verified_claims).length === 0) die(NAME, `the release holds none of ${wanted.join(', ')}`, 1);
const expected = { audience: flags.audience, nonce: flags.nonce };
const kbFor = () => ({ kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: expected.audience, nonce: expected.nonce } } });
const presentation = await holder.present(issued, frame, kbFor());
const result = { presentation, verified: await attempt(presentation, expected) };

if (flags.tampering) {
  const parts = presentation.split('~');
  const disclosures = parts.slice(1, -1);
  const withoutKb = `${parts.slice(0, -1).join('~')}~`;
  // A disclosure's value changed (the date of birth moved), then key-bound again by the holder
  // so that `sd_hash` matches: only the digest check can catch it.
  const altered = disclosures.map((d) => {
    const [salt, name, value] = decodePart(d);
    return name === wanted[0] ? b64url(JSON.stringify([salt, name, typeof value === 'string' ? `${value.slice(0, -1)}9` : value])) : d;
  });
  const alteredSdJwt = `${[parts[0], ...altered].join('~')}~`;
  const rebound = async (sdJwt) => {
    const sdHash = b64url(digest(sdJwt, 'sha-256'));
    const header = b64url(JSON.stringify({ typ: 'kb+jwt', alg: holderAlg }));
    const body = b64url(JSON.stringify({ ...kbFor().kb.payload, sd_hash: sdHash }));
    return `${sdJwt}${header}.${body}.${kbSigner(`${header}.${body}`)}`;
  };
  result.tampering = {
    altered_disclosure: await attempt(await rebound(alteredSdJwt), expected),
    altered_disclosure_kept_kb: await attempt(`${alteredSdJwt}${parts.at(-1)}`, expected),
    no_key_binding: await attempt(withoutKb, expected),
    wrong_nonce: await attempt(presentation, { ...expected, nonce: `${expected.nonce}-other` }),
    wrong_audience: await attempt(presentation, { ...expected, audience: 'https://someone-else.example' }),
  };
  // The altered value must never come out, even from an implementation that skips digests it
  // does not know: a verified payload without the claim is a refusal of the claim.
  const leaked = (r) => r.ok && JSON.stringify(r.payload).includes(`"${wanted[0]}"`);
  if (leaked(result.tampering.altered_disclosure)) result.tampering.altered_disclosure.leaked = true;
}

const refusedAll = !result.tampering || Object.values(result.tampering).every((r) => !r.ok
  || (r.payload && !JSON.stringify(r.payload).includes(`"${wanted[0]}"`)));
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.verified.ok && refusedAll ? 0 : 1);

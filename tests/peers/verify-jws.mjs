#!/usr/bin/env node
// An independent verifier for the broker's signed objects (consent receipts,
// attribute JWTs, SETs, audit checkpoints): jose, ES256 / EdDSA only.
// Prints one JSON line: {"valid":true,"header":…,"payload":…} (exit 0)
// or {"valid":false,"error":"…","code":"…"} (exit 1).
import { readFileSync } from 'node:fs';

import * as jose from 'jose';

import { die, parseFlags, readJson } from './lib/common.mjs';

const NAME = 'verify-jws';
const ALGORITHMS = ['ES256', 'EdDSA'];

const flags = parseFlags({
  jwks: { type: 'string' },
  file: { type: 'string' },
  typ: { type: 'string' },
  aud: { type: 'string' },
  iss: { type: 'string' },
});
if (!flags.jwks) die(NAME, '--jwks <url or file> is required');

/** "application/secevent+jwt" and "secevent+jwt" are the same media type (RFC 7515 §4.1.9). */
const mediaType = (t) => t?.toLowerCase().replace(/^application\//, '');

function keySet(source) {
  return /^https?:/.test(source)
    ? jose.createRemoteJWKSet(new URL(source))
    : jose.createLocalJWKSet(readJson(source));
}

async function verify(jws, keys) {
  const { payload: bytes, protectedHeader: header } = await jose.compactVerify(jws, keys, { algorithms: ALGORITHMS });
  if (flags.typ && mediaType(header.typ) !== mediaType(flags.typ)) {
    throw Object.assign(new Error(`typ is ${JSON.stringify(header.typ)}, expected ${JSON.stringify(flags.typ)}`), { code: 'ERR_JWS_TYP' });
  }
  const text = new TextDecoder().decode(bytes);
  let payload;
  try { payload = JSON.parse(text); } catch { payload = text; }

  const isClaimsSet = payload !== null && typeof payload === 'object' && !Array.isArray(payload);
  if (isClaimsSet) {
    // Also the JWT claim checks: exp / nbf, and iss / aud when asked for.
    await jose.jwtVerify(jws, keys, {
      algorithms: ALGORITHMS,
      ...(flags.iss ? { issuer: flags.iss } : {}),
      ...(flags.aud ? { audience: flags.aud } : {}),
    });
  } else if (flags.iss || flags.aud) {
    throw Object.assign(new Error('payload is not a JSON claims set; cannot check iss/aud'), { code: 'ERR_JWT_INVALID' });
  }
  return { valid: true, header, payload };
}

let result;
try {
  const input = flags.file ? readFileSync(flags.file, 'utf8') : readFileSync(0, 'utf8');
  result = await verify(input.trim(), keySet(flags.jwks));
} catch (err) {
  result = { valid: false, error: err.message, code: err.code ?? 'ERR_UNKNOWN' };
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.valid ? 0 : 1);

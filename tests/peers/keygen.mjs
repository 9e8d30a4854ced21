#!/usr/bin/env node
// Makes a signing key pair as JWKs for tests (e.g. a department's
// private_key_jwt key): --alg ES256|EdDSA|RS256|PS256 --kid k1
// --out-private priv.json --out-public pub.json [--out-jwks jwks.json].
// Prints {"kid","alg","public":<public JWK>} as one JSON line.
import { writeFileSync } from 'node:fs';

import * as jose from 'jose';

import { die, parseFlags } from './lib/common.mjs';

const NAME = 'keygen';
const ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'];

const flags = parseFlags({
  alg: { type: 'string' },
  kid: { type: 'string' },
  'out-private': { type: 'string' },
  'out-public': { type: 'string' },
  'out-jwks': { type: 'string' },
}, { defaults: { alg: 'ES256' } });
if (!ALGS.includes(flags.alg)) die(NAME, `--alg must be one of ${ALGS.join(', ')}`);
if (!flags['out-private']) die(NAME, '--out-private <file> is required');

const { alg } = flags;
const kid = flags.kid ?? `${alg.toLowerCase()}-${Date.now().toString(36)}`;
const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
const meta = { kid, alg, use: 'sig' };
const priv = { ...(await jose.exportJWK(privateKey)), ...meta };
const pub = { ...(await jose.exportJWK(publicKey)), ...meta };

const write = (path, value) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
write(flags['out-private'], priv);
if (flags['out-public']) write(flags['out-public'], pub);
if (flags['out-jwks']) write(flags['out-jwks'], { keys: [pub] });
process.stdout.write(`${JSON.stringify({ kid, alg, public: pub })}\n`);

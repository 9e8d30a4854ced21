#!/usr/bin/env node
// An RFC 8935 push receiver standing in for several departments at once
// (POST /events/<name>). Each Security Event Token is verified with the
// broker's JWKS, recorded (deduplicated by jti), then answered per the path's
// mode: ok | fail-then-ok:N | never | reject.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';

import * as jose from 'jose';

import {
  announce, die, exitOnSignals, listen, logger, parseFlags, readBody, readJson, sendJson,
} from './lib/common.mjs';

const NAME = 'receiver';
const log = logger(NAME);

const flags = parseFlags({
  port: { type: 'string' },
  jwks: { type: 'string' },
  mode: { type: 'string', multiple: true },
  'default-mode': { type: 'string' },
  iss: { type: 'string' },
  typ: { type: 'string' },
}, { defaults: { mode: [], 'default-mode': 'ok', typ: 'secevent+jwt' } });
if (!flags.jwks) die(NAME, '--jwks <broker jwks url or file> is required');

function parseMode(text) {
  const m = /^(ok|never|reject|fail-then-ok:(\d+))$/.exec(text ?? '');
  if (!m) throw new Error(`bad mode ${JSON.stringify(text)} (ok | fail-then-ok:N | never | reject)`);
  return m[2] ? { name: 'fail-then-ok', failures: Number(m[2]), text } : { name: m[1], text };
}

/** "/events/cra", "events/cra" and "cra" all name /events/cra. */
function eventsPath(p) {
  const name = p.replace(/^\/?(events\/)?/, '');
  return `/events/${name}`;
}

// path -> {mode, failed}; unknown paths get --default-mode.
const paths = new Map();
const modeEntries = Array.isArray(flags.mode) ? flags.mode.map((e) => e.split('=')) : Object.entries(flags.mode);
try {
  parseMode(flags['default-mode']);
  for (const [name, mode] of modeEntries) paths.set(eventsPath(name), { mode: parseMode(mode), failed: 0 });
} catch (err) { die(NAME, err.message); }
const pathState = (p) => {
  if (!paths.has(p)) paths.set(p, { mode: parseMode(flags['default-mode']), failed: 0 });
  return paths.get(p);
};

const keys = /^https?:/.test(flags.jwks)
  ? jose.createRemoteJWKSet(new URL(flags.jwks), { cooldownDuration: 1000 })
  : existsSync(flags.jwks) ? jose.createLocalJWKSet(readJson(flags.jwks)) : die(NAME, `no such JWKS file ${flags.jwks}`);

const received = new Map(); // `${path} ${jti}` -> record
const rejected = []; // SETs that did not verify

const rfc8935Error = (res, err, description) => sendJson(res, 400, { err, description });

async function verify(token) {
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(token, keys, {
      algorithms: ['ES256', 'EdDSA'],
      ...(flags.typ ? { typ: flags.typ } : {}),
      ...(flags.iss ? { issuer: flags.iss } : {}),
    });
    if (typeof payload.jti !== 'string' || !payload.events || typeof payload.events !== 'object') {
      return { err: 'invalid_request', description: 'a SET needs jti and events' };
    }
    return { payload, header: protectedHeader };
  } catch (e) {
    if (e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && e.claim === 'iss') return { err: 'invalid_issuer', description: e.message };
    if (e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && e.claim === 'typ') return { err: 'invalid_request', description: e.message };
    return { err: 'invalid_key', description: `${e.code ?? 'error'}: ${e.message}` };
  }
}

function record(path, payload, header, token) {
  const key = `${path} ${payload.jti}`;
  const at = new Date().toISOString();
  let entry = received.get(key);
  if (entry) {
    entry.count += 1;
    entry.last_received_at = at;
  } else {
    entry = {
      path, jti: payload.jti, iss: payload.iss, aud: payload.aud, iat: payload.iat, txn: payload.txn,
      events: payload.events, received_at: at, last_received_at: at, count: 1, statuses: [],
      header, payload, token,
    };
    received.set(key, entry);
  }
  return entry;
}

async function push(req, res, path) {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const body = (await readBody(req)).trim();
  if (type !== 'application/secevent+jwt') {
    rejected.push({ path, received_at: new Date().toISOString(), err: 'invalid_request', description: `content-type ${type}` });
    return rfc8935Error(res, 'invalid_request', 'content-type must be application/secevent+jwt');
  }
  const checked = await verify(body);
  if (checked.err) {
    log(`${path}: rejected SET (${checked.err}: ${checked.description})`);
    rejected.push({ path, received_at: new Date().toISOString(), ...checked });
    return rfc8935Error(res, checked.err, checked.description);
  }
  const entry = record(path, checked.payload, checked.header, body);
  const st = pathState(path);
  let status;
  switch (st.mode.name) {
    case 'never': status = null; break;
    case 'reject': status = 400; break;
    case 'fail-then-ok': status = st.failed < st.mode.failures ? 500 : 202; break;
    default: status = 202;
  }
  entry.statuses.push(status);
  log(`${path}: SET ${entry.jti} (#${entry.count}) -> ${status ?? 'no answer'}`);
  if (status === null) return undefined; // keep the connection open, never answer
  if (status === 500) {
    st.failed += 1;
    return sendJson(res, 500, { err: 'server_error', description: 'fail-then-ok' });
  }
  if (status === 400) return rfc8935Error(res, 'access_denied', 'this department refuses the event');
  res.writeHead(202);
  return res.end();
}

function filtered(list, url) {
  const p = url.searchParams.get('path');
  return p ? list.filter((e) => e.path === eventsPath(p)) : list;
}

async function control(req, res, url) {
  switch (`${req.method} ${url.pathname}`) {
    case 'GET /control/received':
      return sendJson(res, 200, filtered([...received.values()], url));
    case 'GET /control/stats': {
      // Counts only (large runs): distinct jtis, POSTs, jtis accepted (202) once and more than once.
      const list = filtered([...received.values()], url);
      const accepted = (e) => e.statuses.filter((s) => s === 202).length;
      return sendJson(res, 200, {
        distinct: list.length,
        posts: list.reduce((n, e) => n + e.count, 0),
        accepted: list.filter((e) => accepted(e) >= 1).length,
        accepted_more_than_once: list.filter((e) => accepted(e) > 1).length,
        jtis: url.searchParams.get('jtis') ? list.map((e) => e.jti) : undefined,
      });
    }
    case 'GET /control/rejected':
      return sendJson(res, 200, filtered(rejected, url));
    case 'DELETE /control/received':
      received.clear();
      rejected.length = 0;
      return sendJson(res, 200, { cleared: true });
    case 'POST /control/mode': {
      const body = JSON.parse((await readBody(req)) || '{}');
      const path = eventsPath(body.path ?? '');
      try {
        paths.set(path, { mode: parseMode(body.mode), failed: 0 });
      } catch (err) { return sendJson(res, 400, { error: err.message }); }
      log(`mode of ${path} set to ${body.mode}`);
      return sendJson(res, 200, { path, mode: body.mode });
    }
    case 'GET /control/mode':
      return sendJson(res, 200, Object.fromEntries([...paths].map(([p, s]) => [p, s.mode.text])));
    default:
      return sendJson(res, 404, { error: 'not_found' });
  }
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (req.method === 'POST' && /^\/events\/[^/]+$/.test(url.pathname)) return push(req, res, url.pathname);
  if (url.pathname.startsWith('/control/')) return control(req, res, url);
  return sendJson(res, 404, { error: 'not_found' });
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    log(`error: ${err.stack}`);
    if (!res.headersSent) sendJson(res, err.status ?? 500, { err: 'server_error', description: err.message });
  });
});
exitOnSignals(NAME, server);

const base = await listen(server, flags.port ?? 0);
log(`jwks ${flags.jwks}; modes ${JSON.stringify(Object.fromEntries([...paths].map(([p, s]) => [p, s.mode.text])))}; default ${flags['default-mode']}`);
announce(base);

#!/usr/bin/env node
// A department's change feed for the broker's pull adapter (adapters::pull):
// GET /tuo/changes?since=<cursor>&limit=<n> answers page by page from pages the
// test appends, and GET /tuo/subjects/<sub>/attributes/<name> answers 404.
// Every feed request is recorded (its cursor, whether its bearer token was the
// expected one, and the status answered) so a test can see how the broker read it.
import { createServer } from 'node:http';

import {
  announce, exitOnSignals, listen, logger, parseFlags, readBody, sendJson,
} from './lib/common.mjs';

const NAME = 'pull-source';
const log = logger(NAME);

const flags = parseFlags({
  port: { type: 'string' },
  token: { type: 'string' },
});

// Page n is served for `since=c<n>` (page 0 without `since`), with next_cursor `c<n+1>` and
// has_more while a later page exists. Past the last page: no changes, the cursor unchanged.
const pages = [];
// Answers that replace the next feed responses, once each: {status, retry_after} or {malformed}.
const glitches = [];
const requests = [];

function page(since) {
  const at = since === null ? 0 : Number(/^c(\d+)$/.exec(since)?.[1] ?? NaN);
  if (!Number.isInteger(at)) return null;
  if (at >= pages.length) return { changes: [], next_cursor: `c${at}`, has_more: false };
  return { changes: pages[at], next_cursor: `c${at + 1}`, has_more: at + 1 < pages.length };
}

function feed(req, res, url) {
  const since = url.searchParams.get('since');
  const entry = {
    since,
    limit: url.searchParams.get('limit'),
    authorized: !flags.token || req.headers.authorization === `Bearer ${flags.token}`,
    at: new Date().toISOString(),
    status: null,
  };
  requests.push(entry);
  const answer = (status, body, headers) => {
    entry.status = status;
    log(`GET /changes since=${since ?? '-'} -> ${status}`);
    if (typeof body === 'string') {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      return res.end(body);
    }
    return sendJson(res, status, body, headers);
  };
  if (!entry.authorized) return answer(401, { error: 'invalid_token' });
  const glitch = glitches.shift();
  if (glitch?.malformed) return answer(200, '{"changes": "not a list"}');
  if (glitch) {
    const headers = glitch.retry_after !== undefined ? { 'retry-after': String(glitch.retry_after) } : {};
    return answer(glitch.status, { error: 'unavailable' }, headers);
  }
  const body = page(since);
  if (!body) return answer(400, { error: 'unknown cursor' });
  return answer(200, body);
}

async function control(req, res, url) {
  switch (`${req.method} ${url.pathname}`) {
    case 'POST /control/pages': {
      const body = JSON.parse((await readBody(req)) || '{}');
      if (!Array.isArray(body.changes)) return sendJson(res, 400, { error: 'changes must be a list' });
      pages.push(body.changes);
      log(`page ${pages.length - 1} added (${body.changes.length} changes)`);
      return sendJson(res, 200, { page: pages.length - 1 });
    }
    case 'POST /control/glitch': {
      const body = JSON.parse((await readBody(req)) || '{}');
      const times = Number(body.times ?? 1);
      for (let i = 0; i < times; i += 1) {
        glitches.push(body.malformed ? { malformed: true } : { status: Number(body.status ?? 503), retry_after: body.retry_after });
      }
      return sendJson(res, 200, { glitches: glitches.length });
    }
    case 'GET /control/requests':
      return sendJson(res, 200, requests);
    default:
      return sendJson(res, 404, { error: 'not_found' });
  }
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (req.method === 'GET' && url.pathname === '/tuo/changes') return feed(req, res, url);
  if (req.method === 'GET' && /^\/tuo\/subjects\/[^/]+\/attributes\/[^/]+$/.test(url.pathname)) {
    return sendJson(res, 404, { error: 'no value' });
  }
  if (url.pathname.startsWith('/control/')) return control(req, res, url);
  return sendJson(res, 404, { error: 'not_found' });
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    log(`error: ${err.stack}`);
    if (!res.headersSent) sendJson(res, err.status ?? 500, { error: err.message });
  });
});
exitOnSignals(NAME, server);

const base = await listen(server, flags.port ?? 0);
log(`feed at ${base}/tuo/changes${flags.token ? ' (bearer token required)' : ''}`);
announce(base);

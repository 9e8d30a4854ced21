// Shared plumbing for the peer scripts: flags, logging, the READY line and
// clean shutdown. Every server binds 127.0.0.1 only.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const HOST = '127.0.0.1';

/** Logs one line to stderr, prefixed with the peer's name. stdout is kept for READY / results. */
export function logger(name) {
  return (...args) => console.error(`[${name}]`, ...args);
}

export function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read JSON file ${path}: ${err.message}`);
  }
}

/**
 * Parses command-line flags. `--config <file.json>` supplies values for any flag
 * (keys spelled as the flags, without dashes); flags given on the command line win.
 * `spec` is a node:util parseArgs options object; defaults go in `defaults`.
 */
export function parseFlags(spec, { defaults = {}, positionals = false } = {}) {
  const { values, positionals: rest } = parseArgs({
    options: { config: { type: 'string' }, ...spec },
    allowPositionals: positionals,
    strict: true,
  });
  const fromFile = values.config ? readJson(values.config) : {};
  const merged = { ...defaults, ...fromFile, ...values };
  delete merged.config;
  if (positionals) merged.positionals = rest;
  return merged;
}

/** Exits with a message on stderr (status 2 = usage error). */
export function die(name, message, status = 2) {
  console.error(`[${name}] error: ${message}`);
  process.exit(status);
}

/**
 * Listens on 127.0.0.1:port (0 = any free port). Returns the base URL
 * (no trailing slash). Call announce() once the server can answer.
 */
export async function listen(server, port) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port) || 0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `http://${HOST}:${server.address().port}`;
}

/** Prints the READY line (once the server can answer). */
export function announce(url) {
  process.stdout.write(`READY ${url}\n`);
}

/**
 * On SIGTERM / SIGINT: stop accepting, drop open (even hanging) connections,
 * run `cleanup`, exit 0.
 */
export function exitOnSignals(name, server, cleanup = async () => {}) {
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    logger(name)(`${signal}: shutting down`);
    server?.close();
    server?.closeAllConnections?.();
    try {
      await cleanup();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Reads a whole request body as a string (limit 1 MiB). */
export async function readBody(req, limit = 1 << 20) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends a JSON response. */
export function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** True for http URLs on this machine (where openid-client needs allowInsecureRequests). */
export function isLoopbackHttp(url) {
  const u = new URL(url);
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

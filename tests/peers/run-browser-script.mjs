#!/usr/bin/env node
// Runs one browser scenario: run-browser-script.mjs <scenario.mjs> [json args]
//   [--screenshot-dir <dir>] [--timeout <ms>]
// The scenario module exports `default async ({page, context, args, axe}) => result`.
// Prints the result as one JSON line on stdout and exits 0; on an exception
// prints {"error": "...", "screenshot": "<png or null>"} and exits 1.
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

import { launch, runAxe } from './browser.mjs';
import { die, logger, parseFlags } from './lib/common.mjs';

const NAME = 'run-browser-script';
const log = logger(NAME);

const flags = parseFlags({
  'screenshot-dir': { type: 'string' },
  timeout: { type: 'string' },
}, { positionals: true, defaults: { timeout: '120000' } });
const [script, rawArgs] = flags.positionals;
if (!script) die(NAME, 'usage: run-browser-script.mjs <scenario.mjs> [json args] [--screenshot-dir <dir>] [--timeout <ms>]');

let args = {};
try {
  args = rawArgs ? JSON.parse(rawArgs) : {};
} catch {
  die(NAME, 'the second argument must be JSON');
}

const scenario = (await import(pathToFileURL(resolve(script)).href)).default;
if (typeof scenario !== 'function') die(NAME, `${script} has no default export function`);

const browser = await launch();
const { page, context } = browser;
let status = 0;
let output;
try {
  const timeoutMs = Number(flags.timeout);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scenario timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  const result = await Promise.race([scenario({ page, context, args, axe: (opts) => runAxe(page, opts) }), timeout]);
  clearTimeout(timer);
  output = result === undefined ? null : result;
} catch (err) {
  status = 1;
  log(`scenario failed: ${err.stack ?? err}`);
  let screenshot = null;
  if (flags['screenshot-dir']) {
    try {
      mkdirSync(flags['screenshot-dir'], { recursive: true });
      screenshot = join(resolve(flags['screenshot-dir']), `${basename(script, '.mjs')}-${Date.now()}.png`);
      await page.screenshot({ path: screenshot, fullPage: true, timeout: 10000 });
      log(`screenshot: ${screenshot}`);
    } catch (shotErr) {
      log(`no screenshot: ${shotErr.message}`);
      screenshot = null;
    }
  }
  output = { error: stripVTControlCharacters(err.message ?? String(err)), screenshot, url: page.url() };
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(output)}\n`);
process.exit(status);

// Helpers for browser tests driven from Rust (through run-browser-script.mjs):
// Debian's Chromium via playwright-core (no browser download), and axe-core
// checks for WCAG 2.1 A/AA.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.PEERS_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Starts headless Chromium with a fresh profile in a temporary directory.
 * Returns {context, page, userDataDir, close}; close() also deletes the profile.
 * `options` go to launchPersistentContext (e.g. {locale: 'fr-CA', viewport: {...}}).
 */
export async function launch(options = {}) {
  const userDataDir = await mkdtemp(join(tmpdir(), 'peers-chromium-'));
  const { args = [], ...rest } = options;
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...args],
    ...rest,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    userDataDir,
    async close() {
      await context.close().catch(() => {});
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs axe-core on the page and returns its violations of the given tags
 * (default WCAG 2.1 A and AA) as plain JSON. axe is evaluated through the
 * DevTools protocol, so a strict Content-Security-Policy does not block it.
 */
export async function runAxe(page, { tags = WCAG_TAGS, context } = {}) {
  const loaded = await page.evaluate(() => typeof window.axe === 'object');
  if (!loaded) await page.evaluate(axeSource);
  return page.evaluate(async ({ tags: values, context: scope }) => {
    const results = await window.axe.run(scope ?? document, {
      runOnly: { type: 'tag', values },
      resultTypes: ['violations'],
    });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      tags: v.tags,
      nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, failureSummary: n.failureSummary })),
    }));
  }, { tags, context });
}

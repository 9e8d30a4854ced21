// Helpers for the self-tests: start a peer and wait for READY, follow
// redirects with a cookie jar (like a browser that never shows a page).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const HERE = fileURLToPath(new URL('..', import.meta.url));

/** Starts `node <script> ...args` in tests/peers, resolves with {url, proc, stop} after `READY <url>`. */
export async function startPeer(script, args = [], { quiet = true } = {}) {
  const proc = spawn(process.execPath, [script, ...args], { cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = [];
  proc.stderr.on('data', (d) => (quiet ? stderr.push(d) : process.stderr.write(d)));
  const lines = createInterface({ input: proc.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script}: no READY line in 15 s\n${Buffer.concat(stderr)}`)), 15000);
    lines.on('line', (line) => {
      const m = /^READY (\S+)$/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${script} exited ${code}\n${Buffer.concat(stderr)}`)); });
  });
  return {
    url,
    proc,
    stderr: () => Buffer.concat(stderr).toString(),
    /** SIGTERM, resolves with the exit code (must be 0). */
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const [code] = await once(proc, 'exit');
      return code;
    },
  };
}

/** Runs `node <script> ...args` to completion: {code, stdout, stderr}. */
export async function runNode(script, args = [], { input } = {}) {
  const proc = spawn(process.execPath, [script, ...args], { cwd: HERE, stdio: ['pipe', 'pipe', 'pipe'] });
  const out = []; const err = [];
  proc.stdout.on('data', (d) => out.push(d));
  proc.stderr.on('data', (d) => err.push(d));
  proc.stdin.end(input ?? '');
  const [code] = await once(proc, 'exit');
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** A fetch that keeps cookies and follows redirects until `stopAt` (a URL prefix) is reached. */
export function cookieFetch() {
  const jar = new Map();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  async function step(url, init = {}) {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers ?? {}), cookie: cookieHeader() },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]) < new Date());
      if (expired || value === '') jar.delete(name); else jar.set(name, value);
    }
    return res;
  }
  async function follow(url, stopAt, init = {}) {
    let res = await step(url, init);
    for (let hops = 0; hops < 20; hops += 1) {
      const location = res.headers.get('location');
      if (!location) return { res, url };
      url = new URL(location, url).href;
      if (url.startsWith(stopAt)) return { res, url };
      res = await step(url);
    }
    throw new Error('too many redirects');
  }
  return { step, follow, jar };
}

/** A tiny test counter that ends with the plain `N passed, N failed` line. */
export function counter() {
  let passed = 0; let failed = 0;
  return {
    async check(name, fn) {
      try {
        await fn();
        passed += 1;
        console.log(`ok - ${name}`);
      } catch (err) {
        failed += 1;
        console.log(`not ok - ${name}: ${err.stack ?? err}`);
      }
    },
    finish() {
      console.log(`${passed} passed, ${failed} failed`);
      return failed === 0 ? 0 : 1;
    },
  };
}

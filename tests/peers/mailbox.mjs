#!/usr/bin/env node
// A real SMTP server (nodemailer's `smtp-server`) standing in for citizens' mail
// providers: each message it accepts is parsed (`mailparser`) and written to
// --dir as <n>.json ({envelope, subject, text, messageId, contentLanguage, raw}),
// written whole (rename), so a reader never sees half a message.
// --fail-first N answers the first N messages with 451 (try again later).
// Prints READY smtp://127.0.0.1:<port>.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

import { announce, die, exitOnSignals, logger, parseFlags } from './lib/common.mjs';

const NAME = 'mailbox';
const log = logger(NAME);
const flags = parseFlags({
  port: { type: 'string' },
  dir: { type: 'string' },
  'fail-first': { type: 'string' },
}, { defaults: { port: '0', 'fail-first': '0' } });
if (!flags.dir) die(NAME, '--dir <where messages are written> is required');
mkdirSync(flags.dir, { recursive: true });

let failures = Number(flags['fail-first']);
let count = 0;

const server = new SMTPServer({
  name: 'mailbox.test',
  secure: false,
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  size: 1 << 20,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', async () => {
      if (failures > 0) {
        failures -= 1;
        log('answering 451 (--fail-first)');
        const err = new Error('mailbox busy, try again later');
        err.responseCode = 451;
        callback(err);
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      try {
        const parsed = await simpleParser(raw);
        count += 1;
        const message = {
          envelope: {
            from: session.envelope.mailFrom?.address ?? null,
            to: session.envelope.rcptTo.map((r) => r.address),
          },
          subject: parsed.subject ?? null,
          text: parsed.text ?? null,
          messageId: parsed.messageId ?? null,
          contentLanguage: parsed.headers.get('content-language') ?? null,
          raw,
        };
        const file = join(flags.dir, `${count}.json`);
        writeFileSync(`${file}.tmp`, JSON.stringify(message, null, 2));
        renameSync(`${file}.tmp`, file);
        log(`message ${count} accepted`);
        callback(null, `queued as ${count}`);
      } catch (e) {
        callback(e);
      }
    });
  },
});

server.listen(Number(flags.port), '127.0.0.1', () => {
  announce(`smtp://127.0.0.1:${server.server.address().port}`);
});
exitOnSignals(NAME, { close: () => server.close(), closeAllConnections: () => {} });

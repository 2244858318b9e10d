import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server on a loopback port (issue #17 tests): keeps every mail it accepts, parsed, with
 * the envelope's recipients. It can be stopped and started again on the same port (an outage).
 */
export interface ReceivedMail {
  to: string[];
  parsed: ParsedMail;
  raw: string;
}

export interface TestSmtp {
  port: number;
  url: string;
  mails: ReceivedMail[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** waits until at least `n` mails arrived (or throws after `ms`) */
  waitFor(n: number, ms?: number): Promise<ReceivedMail[]>;
  /** mails to one address */
  to(address: string): ReceivedMail[];
}

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

export async function testSmtp(opts: { started?: boolean } = {}): Promise<TestSmtp> {
  const port = await freePort();
  const mails: ReceivedMail[] = [];
  let server: SMTPServer | undefined;
  const smtp: TestSmtp = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    mails,
    async start() {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            simpleParser(raw)
              .then((parsed) => {
                mails.push({ to: session.envelope.rcptTo.map((r) => r.address), parsed, raw });
                callback();
              })
              .catch(callback);
          });
        },
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
    async waitFor(n, ms = 10_000) {
      const until = Date.now() + ms;
      while (mails.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      if (mails.length < n) throw new Error(`expected ${n} mails, got ${mails.length}`);
      return mails;
    },
    to: (address) => mails.filter((m) => m.to.includes(address)),
  };
  if (opts.started !== false) await smtp.start();
  return smtp;
}

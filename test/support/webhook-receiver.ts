import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A webhook receiver on a loopback port (issue #17 tests): records every request; answers as told. */
export interface ReceivedHook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface TestReceiver {
  port: number;
  url: string;
  requests: ReceivedHook[];
  /** how to answer the next requests: a status, or a function writing the response itself */
  answer: (req: ReceivedHook, res: ServerResponse) => number | undefined;
  waitFor(n: number, ms?: number): Promise<ReceivedHook[]>;
  close(): Promise<void>;
}

export async function webhookReceiver(): Promise<TestReceiver> {
  const receiver: TestReceiver = {
    port: 0,
    url: '',
    requests: [],
    answer: () => 204,
    async waitFor(n, ms = 10_000) {
      const until = Date.now() + ms;
      while (receiver.requests.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      if (receiver.requests.length < n) throw new Error(`expected ${n} webhook requests, got ${receiver.requests.length}`);
      return receiver.requests;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hook = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      receiver.requests.push(hook);
      const status = receiver.answer(hook, res);
      if (status === undefined) return; // the answer function handles (or withholds) the response
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/hooks/stepup`;
  return receiver;
}

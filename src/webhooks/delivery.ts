import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Webhook } from 'standardwebhooks';
import type { WebhookConfig } from '../config/env.js';
import type { Delivery } from '../outbox/worker.js';
import type { ClaimedEntry } from '../store/outbox.repo.js';
import { guardedLookup, urlProblem } from './target.js';

/**
 * Posts the outbox's webhook entries (issue #17) as JSON signed per Standard Webhooks: `webhook-id`
 * (the entry id: the same on every retry, so a receiver drops a copy), `webhook-timestamp` (seconds,
 * of this attempt) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under
 * the secret), signed with the `standardwebhooks` reference library. A 2xx answer is a delivery;
 * anything else (a 3xx too: redirects are not followed), a timeout or a refused target is a failure the
 * worker retries with backoff. The SSRF rules are in target.ts.
 */
export function createWebhookDelivery(config: WebhookConfig & { production: boolean }, clock: () => Date = () => new Date()): Delivery {
  // the signing library is loaded with the first delivery, not with every server
  let signer: Webhook | undefined;
  const sign = async (id: string, at: Date, body: string) => (signer ??= new (await import('standardwebhooks')).Webhook(config.secret)).sign(id, at, body);
  const lookup = guardedLookup({ allowPrivate: config.allowPrivate });
  return {
    async deliver(entry: ClaimedEntry) {
      const problem = urlProblem(config.url, config);
      if (problem) throw new Error(`target refused: ${problem}`);
      const body = JSON.stringify(entry.payload);
      const at = clock();
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'stepup-webhooks',
        'webhook-id': entry.id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': await sign(entry.id, at, body),
      };
      const status = await post(config.url, headers, body, config.timeoutMs, lookup);
      if (status < 200 || status > 299) throw new Error(status >= 300 && status < 400 ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}`);
    },
  };
}

function post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number, lookup: ReturnType<typeof guardedLookup>): Promise<number> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup, timeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      // the receiver's answer is not read beyond its status (nor kept): drain it so the socket is freed
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err.name === 'AbortError' ? new Error(`no answer within ${timeoutMs} ms`) : err));
    req.end(body);
  });
}

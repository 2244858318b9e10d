import Router from '@koa/router';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import { z } from 'zod';
import { createResourceServer, type VerifiedToken } from 'stepup/resource-server';
import { isValidIban, normalizeIban } from './iban.js';

/**
 * The Demo Bank's API: a resource server that decides per route how the caller must have signed in,
 * and says so with RFC 9470 when it is not enough. The whole integration with stepup is the
 * `createResourceServer` call and one `rs.koa(...)` per route.
 */
export interface BankApiOptions {
  issuer: string;
  /** this API's resource indicator: the audience of the access tokens it accepts */
  audience: string;
}

interface Account {
  balanceCents: number;
  payoutIban: string;
  payments: Payment[];
}
interface Payment {
  id: string;
  to: string;
  amountCents: number;
  reference: string;
  at: string;
}

const STARTING_BALANCE_CENTS = 1_250_00;
const PAYMENT_MAX_AGE_SECONDS = 300;

const payment = z.object({
  to: z.string().trim().min(1, 'say who gets the money').max(70),
  amount: z
    .string()
    .trim()
    .regex(/^\d{1,7}(\.\d{1,2})?$/, 'an amount like 25 or 25.50'),
  reference: z.string().trim().max(140).default(''),
});
const payout = z.object({ iban: z.string().transform(normalizeIban).refine(isValidIban, 'not a valid IBAN') });

const euros = (cents: number) => (cents / 100).toFixed(2);

export function createBankApi(o: BankApiOptions): Koa {
  // the level order comes from stepup's discovery (acr_values_supported): aal1 < aal2 < phr < phrh
  const rs = createResourceServer({ issuer: o.issuer, audience: o.audience, realm: 'demo-bank' });
  const accounts = new Map<string, Account>();
  const accountOf = (auth: VerifiedToken): Account => {
    const sub = auth.sub!;
    let a = accounts.get(sub);
    if (!a) accounts.set(sub, (a = { balanceCents: STARTING_BALANCE_CENTS, payoutIban: 'DE89 3704 0044 0532 0130 00', payments: [] }));
    return a;
  };
  const view = (a: Account) => ({
    balance: euros(a.balanceCents),
    currency: 'EUR',
    payout_account: a.payoutIban,
    payments: a.payments.map((p) => ({ id: p.id, to: p.to, amount: euros(p.amountCents), reference: p.reference, at: p.at })),
  });
  const problem = (ctx: Koa.Context, status: number, detail: string) => {
    ctx.status = status;
    ctx.type = 'application/problem+json';
    ctx.body = { type: 'about:blank', title: status === 400 ? 'Bad request' : 'Not possible', status, detail };
  };

  const router = new Router();
  // viewing: any signed-in user
  router.get('/balance', rs.koa({ acr: 'aal1', scope: 'bank' }), (ctx) => {
    ctx.body = view(accountOf(ctx.state.auth as VerifiedToken));
  });
  // moving money: a second factor, verified within the last five minutes
  router.post('/payments', rs.koa({ acr: 'aal2', maxAge: PAYMENT_MAX_AGE_SECONDS, scope: 'bank' }), koaBody({ jsonLimit: '8kb' }), (ctx) => {
    const input = payment.safeParse(ctx.request.body);
    if (!input.success) return problem(ctx, 400, input.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const a = accountOf(ctx.state.auth as VerifiedToken);
    const cents = Math.round(Number(input.data.amount) * 100);
    if (cents <= 0) return problem(ctx, 400, 'amount: more than zero, please');
    if (cents > a.balanceCents) return problem(ctx, 422, 'not enough money on the account');
    a.balanceCents -= cents;
    const p: Payment = { id: `p${a.payments.length + 1}`, to: input.data.to, amountCents: cents, reference: input.data.reference, at: new Date().toISOString() };
    a.payments.unshift(p);
    ctx.status = 201;
    ctx.body = { payment: { id: p.id, to: p.to, amount: euros(p.amountCents), reference: p.reference, at: p.at }, balance: euros(a.balanceCents) };
  });
  // where the money goes out: only phishing-resistant (a passkey or a security key)
  router.put('/payout-account', rs.koa({ acr: 'phr', scope: 'bank' }), koaBody({ jsonLimit: '2kb' }), (ctx) => {
    const input = payout.safeParse(ctx.request.body);
    if (!input.success) return problem(ctx, 400, 'iban: not a valid IBAN');
    const a = accountOf(ctx.state.auth as VerifiedToken);
    a.payoutIban = input.data.iban;
    ctx.body = { payout_account: a.payoutIban };
  });

  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const status = (err as { status?: number }).status;
      problem(ctx, status && status >= 400 && status < 500 ? status : 500, status && status < 500 ? 'the request could not be read' : 'something went wrong');
    }
    if (ctx.status === 404 && !ctx.body) problem(ctx, 404, 'no such route');
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

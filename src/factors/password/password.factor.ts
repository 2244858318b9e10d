import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { FactorDeps } from '../deps.js';
import type { StepFactor } from '../factor.js';
import { verifyPassword } from './password.js';

const MAX_EMAIL_LENGTH = 254;

const form = z.object({
  email: z.string().max(1000).default('').transform((v) => v.slice(0, MAX_EMAIL_LENGTH)),
  password: z.string().max(10_000).default(''),
});
export type PasswordInput = z.infer<typeof form>;

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

/** The password's failure counter subject: per typed email (hashed), so an unknown email is limited like a known one. */
export const passwordAccountSubject = (email: string) => `pwd:acct:${digest(email.trim().toLowerCase())}`;

/**
 * The password (SPEC §3): the primary factor that also identifies the account. Login never reveals
 * whether an account exists: an unknown email, a disabled account and a wrong password are one refusal,
 * and the argon2id work is done in every case (verifyPassword hashes against a dummy when there is no hash).
 */
export function passwordFactor(deps: FactorDeps): StepFactor<'password', PasswordInput> {
  return {
    kind: 'password',
    route: 'password',
    form,
    name: 'your password',
    refusal: 'Incorrect email or password.',
    // counted per typed email (hashed), so an unknown email is limited like a known one
    subjects: (input, _accountId, ip) => ({ account: passwordAccountSubject(input?.email ?? ''), ip: `ip:${ip}` }),
    async verify({ ctx, accountId, input, now }) {
      // re-authentication of a known account: the account is fixed server-side, the typed email is ignored
      const known = accountId ? await deps.reads.account(ctx, accountId) : undefined;
      const email = known?.email ?? input.email;
      const found = email ? await deps.reads.credentialsByEmail(ctx, email) : undefined;
      const usable = found && !found.account.disabledAt && (!accountId || found.account.id === accountId) ? found : undefined;
      const ok = await verifyPassword(usable?.passwordHash, input.password);
      if (!ok || !usable) return { ok: false, reason: 'bad_credentials', accountId: found?.account.id };
      return { ok: true, accountId: usable.account.id, event: { factor: 'password', at: now } };
    },
  };
}

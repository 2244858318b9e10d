import type { RedisClient } from './client.js';

/**
 * SPEC §3: WebAuthn challenges are stored server-side, single-use and expire in 5 minutes.
 * One outstanding challenge per ceremony slot (an interaction, or a signed-in session registering a
 * key), so a flood of page views cannot pile challenges up. Taking a challenge is one GETDEL: of any
 * number of parallel submissions (on any number of stepup instances) exactly one gets it, and a
 * replayed response finds nothing.
 */
export interface ChallengeRecord {
  challenge: string;
  /** what the challenge may be used for */
  purpose: 'authenticate' | 'register';
  /** the account the ceremony is for; absent for a discoverable (passkey) sign-in */
  accountId?: string;
  requireUserVerification: boolean;
  /** registration: passkey or security key */
  kind?: 'passkey' | 'security_key';
  /** epoch seconds, checked against stepup's clock as well as Redis' TTL */
  expiresAt: number;
}

export function createChallengeStore(redis: RedisClient, prefix: string) {
  const key = (slot: string) => `${prefix}webauthn:challenge:${slot}`;
  return {
    async put(slot: string, record: ChallengeRecord, ttlSeconds: number): Promise<void> {
      await redis.set(key(slot), JSON.stringify(record), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    },
    /** Atomically reads and deletes: the challenge can be answered once. */
    async take(slot: string): Promise<ChallengeRecord | undefined> {
      const raw = await redis.getdel(key(slot));
      return raw ? (JSON.parse(raw) as ChallengeRecord) : undefined;
    },
  };
}

export type ChallengeStore = ReturnType<typeof createChallengeStore>;

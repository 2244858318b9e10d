import { describe, expect, it } from '@jest/globals';
import { ARGON2_MAX_CONCURRENT, argon2Limit, hashPassword, verifyPassword } from './password.js';

describe('password hashing under load (issue #6)', () => {
  it('runs at most ARGON2_MAX_CONCURRENT argon2 operations at once; the rest queue and all answer correctly', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(ARGON2_MAX_CONCURRENT).toBeGreaterThanOrEqual(1);
    const attempts = Array.from({ length: ARGON2_MAX_CONCURRENT + 4 }, (_, i) => verifyPassword(stored, i % 2 ? 'correct horse battery staple' : 'wrong password'));
    // verifications enter the limit synchronously: the first ones run, the others wait
    expect(argon2Limit.running).toBe(ARGON2_MAX_CONCURRENT);
    expect(argon2Limit.queued).toBe(4);
    expect(await Promise.all(attempts)).toEqual(attempts.map((_, i) => i % 2 === 1));
    expect([argon2Limit.running, argon2Limit.queued]).toEqual([0, 0]);
  });

  it('an unknown account still costs one (queued) verification and fails', async () => {
    await expect(verifyPassword(undefined, 'anything at all')).resolves.toBe(false);
    expect(argon2Limit.running).toBe(0);
  });
});

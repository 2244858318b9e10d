import { describe, expect, it } from '@jest/globals';
import { exponentialBackoff } from './backoff.js';

describe('outbox backoff (issue #17)', () => {
  const at = (r: number) => exponentialBackoff({ baseMs: 1000, capMs: 8000, random: () => r });
  it.each([
    [1, 0, 500],
    [1, 1, 1000],
    [2, 0, 1000],
    [3, 1, 4000],
    [4, 0.5, 6000],
    [5, 1, 8000], // capped
    [30, 0, 4000], // capped, never shorter than half the cap
  ])('after %i attempt(s) with jitter %f waits %i ms', (attempts, r, ms) => {
    expect(at(r)(attempts)).toBe(ms);
  });

  it('spreads retries of entries that failed together', () => {
    const backoff = exponentialBackoff({ baseMs: 1000, capMs: 60_000 });
    const waits = new Set(Array.from({ length: 50 }, () => backoff(3)));
    expect(waits.size).toBeGreaterThan(10);
    for (const w of waits) expect(w).toBeGreaterThanOrEqual(2000);
  });
});

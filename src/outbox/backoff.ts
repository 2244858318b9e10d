/** How long to wait before the next attempt, given the attempts made so far (1 after the first). */
export type Backoff = (attempts: number) => number;

/**
 * Exponential backoff with jitter: base × 2^(attempts−1), capped, then a random point in its upper half
 * ("equal jitter"), so the retries of many entries that failed together (a mail server outage) spread
 * out instead of arriving together when it is back, and no wait is shorter than half the step.
 * `random` is an argument so the table test is exact.
 */
export function exponentialBackoff(opts: { baseMs: number; capMs: number; random?: () => number }): Backoff {
  const random = opts.random ?? Math.random;
  return (attempts) => {
    const step = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(step / 2 + random() * (step / 2));
  };
}

/** 15 s, 30 s, 1 min, … up to 1 h between attempts: with 12 attempts, about 10 hours before a dead letter. */
export const defaultBackoff = exponentialBackoff({ baseMs: 15_000, capMs: 3600_000 });

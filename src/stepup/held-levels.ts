import { isUserVerifiedWebAuthn, type FactorEvent, type FactorKind } from './factor-events.js';
import { lowestLevel, type LevelDefinition, type Policy } from './levels.js';
import { NO_KINDS, provesStep } from './steps.js';

/**
 * SPEC §1: the levels a session holds are derived from its factor events at each request; nothing
 * stores "the session's acr". So a session steps down by itself when a level's window passes.
 */

/** A level the session holds, with the events that verified its step (they "support" the acr, SPEC §2 rule 8). */
export interface HeldLevel {
  level: LevelDefinition;
  proofs: FactorEvent[];
}

export interface SessionChain {
  /** lowest first */
  held: HeldLevel[];
  /** kinds of the fresh primary verifications: a second factor must be of another kind (SPEC §1 rank 2) */
  primaryKinds: ReadonlySet<FactorKind>;
}

/** Walks the chain from the lowest level up and stops at the first level not held. */
export function walkChain(policy: Policy, events: readonly FactorEvent[], now: number): SessionChain {
  // Newest first: each step is proven by its most recent verification. An event stamped after `now`
  // is not counted: recording and deciding share one clock, so such a stamp is a bug, never a proof.
  const newestFirst = events.filter((e) => e.at <= now).sort((a, b) => b.at - a.at);
  // SPEC §1: "its step was verified within its max age"
  const withinWindow = (level: LevelDefinition) => newestFirst.filter((e) => now - e.at <= level.maxAge);

  // SPEC §1 rank 2, "a second factor of another kind": compared with the primary verifications that are still fresh
  const primaryLevel = lowestLevel(policy);
  const primaryEvents = withinWindow(primaryLevel).filter((e) => provesStep(e, primaryLevel, NO_KINDS));
  const primaryKinds = new Set<FactorKind>(primaryEvents.map((e) => e.factor));

  const held: HeldLevel[] = [];
  for (const level of policy.levels) {
    // SPEC §1: a level is held when every level below it is held (we stop at the first gap) and its step is fresh.
    // One event may prove several steps (a passkey tap lifts a fresh session to phr or phrh).
    const proof = withinWindow(level).find((e) => provesStep(e, level, primaryKinds));
    if (!proof) break;
    const partner = level.step === 'second_factor' && !isUserVerifiedWebAuthn(proof) ? primaryEvents.find((p) => p.factor !== proof.factor) : undefined;
    held.push({ level, proofs: partner ? [partner, proof] : [proof] });
  }
  return { held, primaryKinds };
}

/** The acr values the session holds, lowest first (SPEC §1 chain + per-level max age). */
export function heldLevels(policy: Policy, events: readonly FactorEvent[], now: number): string[] {
  return walkChain(policy, events, now).held.map((h) => h.level.acr);
}

/** SPEC §2 rule 8 / rule 6: the session's most recent active factor verification (undefined: none). */
export function lastVerification(events: readonly FactorEvent[], now: number): number | undefined {
  return events.reduce<number | undefined>((latest, e) => (e.at <= now && (latest === undefined || e.at > latest) ? e.at : latest), undefined);
}

export interface TokenClaims {
  acr?: string;
  amr: string[];
  /** epoch seconds; 0 when there is no verification at all */
  authTime: number;
}

/**
 * What to issue for a held acr (SPEC §2 rule 8): `amr` lists the RFC 8176 values of the events
 * supporting the acr (those that verified each step up to it), plus `mfa` when two kinds of factor
 * (or a user-verified passkey) were used; `auth_time` is the session's most recent active verification.
 *
 * `acr` undefined: the highest level held (rule 5). An acr the session does not hold is never
 * asserted: the result then has no `acr`, and `amr` describes what the session does hold.
 */
export function tokenClaimsFor(policy: Policy, acr: string | undefined, events: readonly FactorEvent[], now: number): TokenClaims {
  const chain = walkChain(policy, events, now).held;
  const index = acr === undefined ? chain.length - 1 : chain.findIndex((h) => h.level.acr === acr);
  const issued = index >= 0 ? chain[index] : undefined;
  const supporting = new Set((issued ? chain.slice(0, index + 1) : chain).flatMap((h) => h.proofs));

  const amr = new Set<string>();
  for (const e of [...supporting].sort((a, b) => a.at - b.at)) for (const value of e.amr) amr.add(value);
  const kinds = new Set([...supporting].map((e) => e.factor));
  if (kinds.size >= 2 || [...supporting].some(isUserVerifiedWebAuthn)) amr.add('mfa');

  return { ...(issued ? { acr: issued.level.acr } : {}), amr: [...amr], authTime: lastVerification(events, now) ?? 0 };
}

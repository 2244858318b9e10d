import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Issue #20: values a script read along with the one asked for (one round trip instead of several,
 * on one Redis server: oidc-adapter.ts), kept for the rest of the request: in an AsyncLocalStorage
 * scope that requestReadsScope() opens for each request (oidc-provider's own, Provider.ctx, covers
 * only its protocol routes, not stepup's interaction pages), so they are gone with the request. Each entry answers one read and is dropped then, and a write to the same thing drops it
 * before: a later read in the same request goes to Redis. `null`: read and found missing. Outside a
 * request (no scope: the CLI, background work) nothing is kept.
 *
 * Entries: `Grant:<id>` and `uid:<session uid>` (a token's grant and session, oidc-adapter.ts),
 * `ix:<interaction uid>` (the interaction's progress, read with the Interaction: interactions/progress.ts).
 */
const scope = new AsyncLocalStorage<Map<string, unknown>>();

/** Koa middleware, mounted first: everything the request does runs in its own scope. */
export const requestReadsScope = () => (_ctx: unknown, next: () => Promise<unknown>) => scope.run(new Map(), next);

/** The request's entries, or undefined outside a request (then scripts that read along are not used). */
export const currentRequest = (): Map<string, unknown> | undefined => scope.getStore();

export function keepForRequest(entry: string, value: unknown): void {
  currentRequest()?.set(entry, value);
}

/** The kept value (`null`: known missing), or undefined when nothing was kept. Taken once. */
export function takeKept<T>(entry: string): T | null | undefined {
  const entries = currentRequest();
  if (!entries?.has(entry)) return undefined;
  const value = entries.get(entry) as T | null;
  entries.delete(entry);
  return value;
}

export function dropKept(match: (entry: string) => boolean): void {
  const entries = currentRequest();
  if (entries) for (const entry of [...entries.keys()]) if (match(entry)) entries.delete(entry);
}

/** The entry of an interaction's progress, as stored (JSON), read along with the Interaction. */
export const progressEntry = (uid: string) => `ix:${uid}`;

import { errors, type Adapter, type ErrorOut } from 'oidc-provider';

/**
 * Words for people when a protocol request cannot be redirected back to the app (unknown client,
 * unregistered redirect_uri, expired interaction). The OIDC error code is shown too, for support.
 */
const MESSAGES: Record<string, string> = {
  invalid_client: 'This application is not registered with stepup.',
  invalid_redirect_uri: 'The application sent you to an address it has not registered. For your safety you were not sent back.',
  invalid_request: 'The application sent an invalid sign-in request.',
  session_not_found: 'Your sign-in took too long or was opened in another browser. Go back to the application and try again.',
  invalid_request_uri: 'The sign-in request has expired. Go back to the application and try again.',
  temporarily_unavailable: 'stepup is temporarily unavailable. Try again in a few seconds.',
};

/** Seconds a client is told to wait (Retry-After) while Postgres or Redis is unreachable. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * Postgres or Redis did not answer (issue #7). Thrown instead of the driver's error wherever
 * oidc-provider calls into our stores, so its own error handlers answer `temporarily_unavailable`
 * (RFC 6749 §4.1.2.1) with 503, or redirect it to the RP, instead of a 500 `server_error`; and so a
 * lookup that failed is never mistaken for "no such session" (which would clear cookies).
 */
export class StoreUnavailable extends errors.OIDCProviderError {
  constructor(cause?: unknown) {
    super(503, 'temporarily_unavailable', { cause, detail: 'a store (Postgres or Redis) did not answer' });
    // exposed: the error code is meant for the client (oidc-provider hides every 5xx as server_error otherwise)
    this.expose = true;
    this.error_description = 'the service is temporarily unavailable, try again later';
  }
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  // Postgres: admin_shutdown, crash_shutdown, cannot_connect_now, connection failures
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);
const UNAVAILABLE_MESSAGES =
  /Connection is closed|connect ECONNREFUSED|Knex: Timeout acquiring a connection|Connection terminated|Client has encountered a connection error|the database system is (starting up|shutting down)|terminating connection due to administrator command|^LOADING |^MASTERDOWN |Reached the max retries per request limit/i;

/** True when an error means "Postgres or Redis is unreachable right now" rather than a bug or bad input. */
export function isStoreUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailable) return true;
  const e = err as { code?: string; name?: string; message?: string } | null | undefined;
  if (!e || typeof e !== 'object') return false;
  return (
    (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) ||
    e.name === 'MaxRetriesPerRequestError' ||
    UNAVAILABLE_MESSAGES.test(e.message ?? '')
  );
}

/** Runs a store call; an outage becomes StoreUnavailable, every other error passes unchanged. */
export async function failClosed<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw isStoreUnavailable(err) && !(err instanceof StoreUnavailable) ? new StoreUnavailable(err) : err;
  }
}

/** The same for every method of an oidc-provider adapter. */
export function failClosedAdapter(adapter: Adapter): Adapter {
  const guarded = {} as Record<string, unknown>;
  for (const [name, method] of Object.entries(adapter) as [string, unknown][]) {
    guarded[name] = typeof method === 'function' ? (...args: unknown[]) => failClosed(async () => method.apply(adapter, args)) : method;
  }
  return guarded as unknown as Adapter;
}

export function describeProtocolError(out: ErrorOut, error: unknown): { message: string; status: number } {
  if (out.error === 'temporarily_unavailable' || isStoreUnavailable(error)) return { message: MESSAGES.temporarily_unavailable!, status: 503 };
  const given = (error as { status?: number } | undefined)?.status;
  const status = out.error === 'server_error' ? 500 : typeof given === 'number' ? given : 400;
  const message =
    MESSAGES[out.error] ??
    (status >= 500 ? 'stepup could not complete the request. Try again in a moment.' : 'The sign-in request could not be completed.');
  return { message, status: status >= 500 ? 500 : status };
}

const MAX_LOGGED_URI = 500;

/**
 * Issue #15: what an error page needs beyond its message. The reference shown (the request id) must
 * find the whole error in the log: the OIDC code and description, the client and the redirect_uri
 * that was refused. And the page offers a way on: back to the application when the client is known
 * (the origin of a redirect URI it registered, never the one the request sent).
 */
export function protocolErrorReport(
  ctx: { oidc?: { client?: { clientId: string; clientName?: string; redirectUris?: string[] }; params?: Record<string, unknown> } },
  out: ErrorOut,
  issuer: string,
) {
  const client = ctx.oidc?.client;
  const params = ctx.oidc?.params ?? {};
  const asText = (v: unknown) => (typeof v === 'string' ? v.slice(0, MAX_LOGGED_URI) : undefined);
  const log = {
    oidc: {
      error: out.error,
      error_description: out.error_description,
      client_id: client?.clientId ?? asText(params.client_id),
      redirect_uri: asText(params.redirect_uri),
    },
  };
  const issuerOrigin = new URL(issuer).origin;
  const registered = (client?.redirectUris ?? []).map((u) => URL.parse(u)).find((u) => u && (u.protocol === 'https:' || u.protocol === 'http:'));
  // stepup's own pages (account, admin, demo) live on the issuer: "Your account" is already offered
  const backUrl = registered && registered.origin !== issuerOrigin ? `${registered.origin}/` : undefined;
  return { log, backUrl, backName: backUrl ? (client?.clientName ?? client?.clientId) : undefined };
}

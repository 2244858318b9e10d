import { pino, type Logger } from 'pino';

/** JSON logs; anything that can carry a secret is redacted by path (SPEC §5 operations). */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  '*.client_secret',
  '*.clientSecret',
  '*.code',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
];

/**
 * Issue #6 profile: written line by line, the access log (one line per request) took about a tenth of
 * the CPU of a light request (JWKS, discovery). Lines are now written in batches of LOG_BUFFER_BYTES, at
 * least every LOG_FLUSH_INTERVAL_MS, and synchronously on exit (pino flushes its destination then), so
 * a log line is late by at most that interval and lost only if the process is killed outright.
 */
export const LOG_BUFFER_BYTES = 4096;
export const LOG_FLUSH_INTERVAL_MS = 1000;

const BASE = { service: 'stepup' };

export function createLogger(level: string): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: BASE };
  if (level === 'silent') return pino(options);
  const destination = pino.destination({ dest: 1, minLength: LOG_BUFFER_BYTES, sync: false });
  setInterval(() => {
    try {
      destination.flush();
    } catch {
      /* destination closed (shutting down): nothing left to flush */
    }
  }, LOG_FLUSH_INTERVAL_MS).unref();
  return pino(options, destination);
}

/**
 * The access log: one line per request with fixed fields only (request id, method, path without its
 * query, status, duration), none of which can carry a secret, so it skips redaction, which the issue #6
 * profile found to be about a twentieth of a light request's CPU (JWKS). Same level and destination as
 * `logger`, so the lines interleave with the others.
 */
export function createAccessLogger(logger: Logger): Pick<Logger, 'info'> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as pino.DestinationStream | undefined;
  const access = pino({ level: logger.level, base: BASE }, stream);
  return {
    info: (fields: { requestId: string; method: string; path: string; status: number; ms: number }, msg: string) => access.info(fields, msg),
  } as Pick<Logger, 'info'>;
}

export type { Logger };

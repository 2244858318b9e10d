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

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { service: 'stepup' } });
}

export type { Logger };

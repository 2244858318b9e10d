import type { Logger } from '../ops/logger.js';

/**
 * Notices that carry a secret for one person (issue #15): unlike a notification they are never
 * logged, only delivered to the account's email address. One kind so far: the forgot-password link.
 * The seam is `(notice) => Promise<void>`, so email delivery (SMTP_URL, an outbox) plugs in here.
 */
export interface PasswordResetNotice {
  kind: 'password_reset';
  accountId: string;
  /** where the link is sent */
  email: string;
  /** the single-use link; a secret: never logged */
  link: string;
  expiresAt: Date;
}

export type Notice = PasswordResetNotice;
export type SendNotice = (notice: Notice) => Promise<void>;

/**
 * Until email delivery exists the link cannot reach anyone, so it is dropped; the log line names the
 * account and the kind only (the link would let a log reader take the account over).
 */
export function createNoticeSender(logger: Logger): SendNotice {
  return async (notice) => {
    logger.warn({ notice: { kind: notice.kind, accountId: notice.accountId } }, 'notice not delivered: no email delivery configured');
  };
}

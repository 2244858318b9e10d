import type { Knex } from 'knex';
import type { Logger } from '../ops/logger.js';
import type { OutboxRepo } from '../store/outbox.repo.js';

/**
 * Notices that carry a secret for one person (issue #15): unlike a notification they are never
 * logged, only delivered to the account's email address. One kind so far: the forgot-password link.
 * With SMTP_URL the notice goes through the outbox like a notification (createNoticeSender).
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
 * With email delivery (SMTP_URL, issue #17) the link goes through the outbox, **sealed**: the link is a
 * secret (whoever reads it can take the account over for 15 minutes), so it is never stored as is: the
 * entry holds it AES-256-GCM sealed with ENCRYPTION_KEY (a key outside the database, bound to the entry
 * id), the sealed copy is erased as soon as the mail is sent or given up, and an entry not sent before
 * the link expires is dropped, never sent late. Why not send it at once without storing it: the outbox
 * is what makes "sent once, by one instance, retried through a mail server's short outage" hold for this
 * mail too, and what a database reader gets is a ciphertext that expires in 15 minutes, no more than
 * the TOTP secrets sealed the same way.
 *
 * Without email delivery the link cannot reach anyone, so it is dropped; the log line names the
 * account and the kind only (the link would let a log reader take the account over).
 */
export function createNoticeSender(logger: Logger, outbox?: OutboxRepo, db?: Knex): SendNotice {
  return async (notice) => {
    if (outbox && db) {
      await outbox.add(db, {
        channel: 'email',
        kind: 'password_reset_link',
        accountId: notice.accountId,
        payload: { kind: 'password_reset_link', accountId: notice.accountId, expiresAt: notice.expiresAt.toISOString() },
        secret: notice.link,
        expiresAt: notice.expiresAt,
      });
      return;
    }
    logger.warn({ notice: { kind: notice.kind, accountId: notice.accountId } }, 'notice not delivered: no email delivery configured');
  };
}

import type { Logger } from './logger.js';

/**
 * User notifications for factor changes (SPEC §4). Without SMTP_URL a notification is a log line;
 * the message never contains a secret.
 */
export function createNotifier(logger: Logger, smtpUrl: string | undefined) {
  if (smtpUrl) logger.warn('SMTP_URL is set but email delivery is not implemented yet: notifications are logged');
  return async (accountId: string, message: string): Promise<void> => {
    logger.info({ notify: { accountId, message } }, 'user notification');
  };
}

import type { Transporter } from 'nodemailer';
import nunjucks from 'nunjucks';
import type { Delivery } from '../outbox/worker.js';
import type { AccountsRepo } from '../store/accounts.repo.js';
import type { ClaimedEntry } from '../store/outbox.repo.js';
import type { Notification } from './notification.js';
import { summarize } from './wording.js';

/**
 * Mails the outbox's email entries (issue #17) with nodemailer over SMTP_URL, plain text and HTML from
 * views/email/: the HTML environment escapes every value (a factor's name is the person's own text),
 * the text one does not (nothing in a text mail is markup).
 *
 * The recipient is the account's address when the mail is sent (an address changed in between gets
 * it). The entry id is the mail's Message-ID, so a copy sent again after a crash (the one duplicate
 * window: worker.ts) carries the same id and mail clients and servers that de-duplicate drop it.
 */
export interface EmailDeps {
  smtpUrl: string;
  from: string;
  issuer: string;
  accounts: Pick<AccountsRepo, 'findById'>;
  viewsDir: string;
}

/** Socket timeouts (ms): a delivery ends well within the outbox lease (worker.ts OUTBOX_DEFAULTS.leaseMs). */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export function createMailRenderer(viewsDir: string, issuer: string) {
  const html = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir), { autoescape: true });
  const text = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir), { autoescape: false });
  const site = { issuer, host: new URL(issuer).host, accountUrl: `${issuer}/account` };
  const render = (view: string, subject: string, context: Record<string, unknown>): RenderedMail => ({
    subject,
    text: text.render(`email/${view}.txt.njk`, { ...site, subject, ...context }),
    html: html.render(`email/${view}.html.njk`, { ...site, subject, ...context }),
  });
  return {
    notification(n: Notification): RenderedMail {
      const summary = summarize(n);
      return render('notification', summary.subject, {
        summary,
        when: utc(n.context.at),
        // an administrator's network is theirs, not the person's (wording.ts fromTheirRequest)
        where: summary.fromTheirRequest ? { device: n.context.device ?? 'an unknown browser', ip: n.context.ip } : undefined,
      });
    },
    passwordResetLink(link: string, expiresAt: string): RenderedMail {
      return render('password-reset-link', 'Reset your password', { link, expires: utc(expiresAt) });
    },
  };
}

const utc = (iso: string) => `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function createEmailDelivery(deps: EmailDeps): Delivery & { close(): void } {
  // nodemailer is loaded with the first mail, not with the server (a server without SMTP_URL never loads it)
  let transport: Transporter | undefined;
  const transporter = async () => (transport ??= (await import('nodemailer')).default.createTransport({ url: deps.smtpUrl, ...SMTP_TIMEOUTS, logger: false, debug: false } as never));
  const renderer = createMailRenderer(deps.viewsDir, deps.issuer);
  const host = new URL(deps.issuer).hostname;
  return {
    async deliver(entry: ClaimedEntry) {
      const account = entry.accountId ? await deps.accounts.findById(entry.accountId) : undefined;
      if (!account) throw new Error('the account no longer exists');
      let mail: RenderedMail;
      if (entry.kind === 'password_reset_link') {
        if (!entry.secret) throw new Error('the link is not in the entry');
        mail = renderer.passwordResetLink(entry.secret, String(entry.payload.expiresAt));
      } else {
        mail = renderer.notification(entry.payload as unknown as Notification);
      }
      await (await transporter()).sendMail({
        from: deps.from,
        to: account.email,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: `<${entry.id}@${host}>`,
        // RFC 3834: an automatic message; out-of-office replies stay away. The kind lets a mail rule sort them.
        headers: { 'Auto-Submitted': 'auto-generated', 'X-Stepup-Notification': entry.kind },
      });
    },
    close: () => transport?.close(),
  };
}

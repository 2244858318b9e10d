/// <reference lib="dom" />
import { describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { createAccountWithTotp } from './support/admin.js';
import { expectAccessible } from './support/a11y.js';
import { callbackUrl } from './support/chromium.js';
import { finish, startAuthorization } from './support/rp.js';
import { useTestbed } from './support/testbed.js';

/**
 * Issue #5 in a real browser (Debian Chromium, CSP in force): an admin signs in with step-up, finds a
 * user, removes the user's authenticator app after a fresh step-up; the user's next aal2 request can no
 * longer use it, and the audit trail shows who did it and why.
 */
const bed = useTestbed({ chromium: true, client: { clientName: 'Payroll' } });

const serverNow = () => Math.floor(Date.now() / 1000) + bed.server.clock.offset;

describe('admin UI in Chromium', () => {
  it("removes a user's TOTP after a step-up; the user cannot use it any more; the audit trail says who and why", async () => {
    const user = await createAccountWithTotp(bed.server.app, { name: '<script>alert(1)</script>', label: '"><img src=x onerror=alert(1)>' });
    const admin = await createAccountWithTotp(bed.server.app, { admin: true, name: 'Ada Admin' });
    const violations: string[] = [];
    const dialogs: string[] = [];
    const watch = (p: Page) => {
      p.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      p.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
    };

    // the user holds an aal2 session at the RP
    const userContext = await bed.chromium.newContext();
    const userPage = await userContext.newPage();
    watch(userPage);
    const first = await startAuthorization(bed.config, { acr_values: 'aal2' });
    await userPage.goto(first.url.toString());
    await userPage.getByLabel('Email').fill(user.email);
    await userPage.getByLabel('Password').fill(user.password);
    await userPage.getByRole('button', { name: 'Sign in' }).click();
    await userPage.getByLabel('Code from your authenticator app').fill(await user.totp.code(serverNow()));
    const cb1 = await callbackUrl(userPage, () => userPage.getByRole('button', { name: 'Verify code' }).click());
    expect((await finish(bed.config, first, cb1)).claims()!.acr).toBe('aal2');

    // the admin signs in through stepup (password, then the second factor: aal2)
    const adminContext = await bed.chromium.newContext();
    const page = await adminContext.newPage();
    watch(page);
    await page.goto(`${bed.server.issuer}/admin`);
    await page.getByLabel('Email').fill(admin.email);
    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Code from your authenticator app').fill(await admin.totp.code(serverNow()));
    await page.getByRole('button', { name: 'Verify code' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    const stylesApplied = await page.evaluate(() => getComputedStyle(document.querySelector('main')!).maxWidth !== '' && document.styleSheets.length === 2);
    expect(stylesApplied).toBe(true);
    await expectAccessible(page, 'admin: users');

    // finds the user
    await page.getByLabel('Search by email, name or id').fill(user.email);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: user.email }).click();
    await page.getByRole('heading', { name: '<script>alert(1)</script>' }).waitFor(); // the name, as text
    expect(await page.getByRole('cell', { name: '"><img src=x onerror=alert(1)>' }).count()).toBe(1);
    expect(await page.locator('img').count()).toBe(0);
    await expectAccessible(page, "admin: a user's page");
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/admin-user.png`, fullPage: true });

    // later: the sign-in is more than 5 minutes old, so removing a factor asks for a fresh step-up
    bed.server.clock.offset = 6 * 60;
    await page.getByRole('link', { name: 'Remove' }).click();
    // issue #15: the re-check names the action and its target before asking
    await page.getByText(/To remove “.+” from .+, confirm it is you first\./).waitFor();
    await expectAccessible(page, 'admin: re-check before removing a factor');
    await page.getByRole('link', { name: 'Confirm it is you and continue' }).click();
    await page.getByLabel('Password').fill(admin.password);
    expect(await page.getByLabel('Email').inputValue()).toBe(admin.email);
    await expectAccessible(page, 'admin re-check: password step');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Code from your authenticator app').fill(await admin.totp.code(serverNow()));
    await page.getByRole('button', { name: 'Verify code' }).click();
    await page.getByRole('heading', { name: 'Remove a factor' }).waitFor();
    await expectAccessible(page, 'admin: confirm removing a factor');
    await page.getByLabel('Reason (optional), for the audit trail').fill('lost phone, ticket 4711');
    await page.getByRole('button', { name: 'Remove factor' }).click();
    await page.getByText('Factor removed').waitFor();
    await expectAccessible(page, 'admin: factor removed');
    expect(await page.getByText('No second factors.').count()).toBe(1);

    // the user's next aal2 request: signed out, and the authenticator app is gone
    const next = await startAuthorization(bed.config, { acr_values: 'aal2' });
    await userPage.goto(next.url.toString());
    await userPage.getByLabel('Password').fill(user.password);
    if ((await userPage.getByLabel('Email').inputValue()) === '') await userPage.getByLabel('Email').fill(user.email);
    await userPage.getByRole('button', { name: 'Sign in' }).click();
    await userPage.getByRole('button', { name: 'An authenticator app' }).click();
    await userPage.getByRole('heading', { name: 'Set up an authenticator app' }).waitFor();
    expect(await userPage.getByRole('button', { name: 'Verify code' }).count()).toBe(0);
    // a code of the removed authenticator is no good here
    await userPage.getByLabel('Code from your authenticator app').fill(await user.totp.code(serverNow()));
    await userPage.getByRole('button', { name: 'Add authenticator app' }).click();
    await userPage.getByRole('alert').waitFor();
    await expectAccessible(userPage, 'authenticator app enrollment after a wrong code');

    // the audit trail: who (the admin), why (the reason), to whom
    await page.getByRole('link', { name: 'Audit trail' }).click();
    await page.getByLabel('User (email or id)').fill(user.email);
    await page.getByLabel('Type').selectOption('admin.*');
    await page.getByRole('button', { name: 'Filter' }).click();
    const row = page.getByRole('listitem').filter({ hasText: 'removed a sign-in method of' });
    await row.waitFor();
    await expectAccessible(page, 'admin: audit trail filtered by email');
    expect(await row.textContent()).toContain(admin.email);
    expect(await row.textContent()).toContain('lost phone, ticket 4711');
    expect(await row.textContent()).toContain('stepup-admin');
    if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/admin-audit.png`, fullPage: true });

    expect(violations).toEqual([]);
    expect(dialogs).toEqual([]);
    await userContext.close();
    await adminContext.close();
  }, 120_000);
});

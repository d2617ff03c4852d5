import { expect, test as base } from '@playwright/test';
import type { APIRequestContext, Page } from '@playwright/test';

// Every spec fails on an uncaught error or a console error: a hydration mismatch, or a
// Content-Security-Policy violation (Chromium reports those in the console, script or not).
// Failed loads are left to the specs, which assert the statuses they expect.
export const test = base.extend<{ browserErrors: void }>({
  browserErrors: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
          problems.push(`console: ${msg.text()}`);
        }
      });
      await use();
      expect(problems, 'browser errors').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/**
 * Signs `username` up through the form (address `username@example.org`) and finishes as a
 * newcomer does on a loopback install without a mail server: the page shows the e-mailed
 * confirmation link; following it and confirming logs the browser in, on the home page.
 */
export async function signUp(page: Page, username: string, passphrase = 'a test passphrase') {
  await page.goto('/signup');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('E-mail').fill(`${username}@example.org`);
  await page.getByLabel('Password').fill(passphrase);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await confirmFromPage(page);
}

/** From the "confirm your e-mail" page a sign-up ends on: follow the link and confirm. */
export async function confirmFromPage(page: Page) {
  await expect(page.getByTestId('sign-up-sent')).toBeVisible();
  await page.getByTestId('confirm-link').click();
  await expect(page).toHaveURL(/\/verify-email\/[0-9a-f]+$/);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('viewer-name')).toBeVisible();
}

/** Signs up and confirms without a browser, through the answers a loopback install gives. */
export async function signUpByApi(request: APIRequestContext, username: string, passphrase: string) {
  const created = await request.post('/api/sign_up', {
    form: { username, email: `${username}@example.org`, password: passphrase },
  });
  expect(created.status()).toBe(200);
  const { link } = await created.json();
  expect(link, 'a loopback install shows the confirmation link').toMatch(/^\/verify-email\//);
  const confirmed = await request.post('/api/verify_email', {
    form: { token: link.split('/').pop() },
  });
  expect(confirmed.status()).toBeLessThan(400);
}

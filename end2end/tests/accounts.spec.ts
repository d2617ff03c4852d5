import { confirmFromPage, expect, test } from './fixtures';
import type { Page } from '@playwright/test';

/** Who the server says this browser is logged in as (the session cookie travels along). */
async function viewer(page: Page): Promise<string | null> {
  const response = await page.request.get('/api/v1/whoami');
  if (response.status() === 401) return null;
  return (await response.json()).username;
}

// Both projects share one server, so each signs up its own account.
test('sign up, log out and log in again, with errors shown on the form', async ({ page }, testInfo) => {
  const username = `ada-${testInfo.project.name}`;
  const email = `${username}@example.org`;
  const passphrase = 'analytical engine 1843';

  await page.goto('/');
  await page.getByRole('link', { name: 'Sign up' }).click();
  await expect(page).toHaveURL(/\/signup$/);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill('password123');
  await page.getByRole('button', { name: 'Sign up' }).click();
  // Beside its field, in words: no internal field key in front of it.
  const error = page.locator('[data-testid="field-error"][data-field="password"]');
  await expect(error).toHaveText('Password is one of the most commonly used passwords; please choose another.');
  await expect(page.getByTestId('form-error')).toHaveCount(0);

  await page.getByLabel('Username').fill(username);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(passphrase);
  await page.getByRole('button', { name: 'Sign up' }).click();
  // No session until the e-mailed link is followed; this loopback install shows it.
  await expect(page.getByTestId('sign-up-sent')).toContainText('Confirm your e-mail address');
  expect(await viewer(page)).toBeNull();
  await confirmFromPage(page);
  await expect(page.getByTestId('viewer-name')).toHaveText(username);
  expect(await viewer(page)).toBe(username);

  await page.getByTestId('viewer-name').click();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('link', { name: 'Log in' })).toBeVisible();
  expect(await viewer(page)).toBeNull();

  await page.getByRole('link', { name: 'Log in' }).click();
  await page.getByLabel('Username or e-mail').fill(email);
  await page.getByLabel('Password').fill('not the passphrase');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('form-error')).toContainText('wrong username or password');
  await page.getByLabel('Username or e-mail').fill(email);
  await page.getByLabel('Password').fill(passphrase);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('viewer-name')).toHaveText(username);
  expect(await viewer(page)).toBe(username);
});

test('forgot-password answers the same for any address', async ({ page }) => {
  await page.goto('/login');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByLabel('E-mail').fill('nobody-here@example.org');
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByTestId('form-done')).toContainText('If an account uses this address');
});

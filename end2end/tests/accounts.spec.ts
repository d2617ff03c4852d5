import { expect, test } from './fixtures';
import type { Page } from '@playwright/test';

/** Who the server says this browser is logged in as (the session cookie travels along). */
async function viewer(page: Page): Promise<string | null> {
  const response = await page.request.post('/api/whoami');
  const body = await response.json();
  return body ? body.username : null;
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
  await expect(page.getByTestId('form-error')).toContainText('commonly used');

  await page.getByLabel('Username').fill(username);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(passphrase);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page).toHaveURL(/\/$/);
  expect(await viewer(page)).toBe(username);

  await page.request.post('/api/log_out');
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
  expect(await viewer(page)).toBe(username);
});

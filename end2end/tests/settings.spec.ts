import { expect, signUp as signUpWith, signUpByApi, test } from './fixtures';
import { request as apiRequest } from '@playwright/test';
import type { Page, TestInfo } from '@playwright/test';

const signUp = (page: Page, username: string) => signUpWith(page, username, 'a settings passphrase');

const name = (stem: string, info: TestInfo) => `${stem}-${info.project.name}`;

test('account pages: publishing, tokens and sessions', async ({ page }, testInfo) => {
  const username = name('grace', testInfo);
  await signUp(page, username);
  await page.getByTestId('viewer-name').click();
  await page.getByTestId('account-menu').getByRole('link', { name: 'Settings' }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByTestId('account-username')).toHaveText(username);
  await page.getByTestId('enable-publishing').click();
  await expect(page.getByTestId('publishing-on')).toBeVisible();

  await page.getByRole('link', { name: 'API tokens' }).click();
  await page.getByLabel('Name').fill('laptop');
  await page.getByLabel('Scope').selectOption('write');
  await page.getByRole('button', { name: 'Create token' }).click();
  if (testInfo.project.name === 'hydrated') {
    // Without JavaScript the answer is the redirect back; the secret shows only with it.
    await expect(page.getByTestId('token-secret')).toContainText('bzr_');
  }
  await expect(page.getByTestId('tokens')).toContainText('laptop');
  await page.getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByText('No tokens yet.')).toBeVisible();

  await page.getByRole('link', { name: 'Sessions' }).click();
  await expect(page.getByTestId('sessions')).toContainText('this browser');
});

test('organizations: create one and invite a member', async ({ page, baseURL }, testInfo) => {
  const owner = name('hopper', testInfo);
  const member = name('lovelace', testInfo);
  // The member signs up in a context of their own, so this browser keeps its session.
  const other = await apiRequest.newContext({ baseURL });
  await signUpByApi(other, member, 'a member passphrase');
  await other.dispose();

  await signUp(page, owner);
  await page.goto('/settings/organizations');
  await page.getByLabel('Name (in URLs)').fill(name('labs', testInfo));
  await page.getByLabel('Display name').fill('Hopper Labs');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByRole('heading', { name: 'Hopper Labs' })).toBeVisible();
  await expect(page.getByTestId('members')).toContainText(owner);

  // Invited, not added: they join when they accept (see basics_orgs.spec.ts).
  await page.getByLabel('Username').fill(member);
  await page.getByRole('button', { name: 'Invite' }).click();
  await expect(page.getByTestId('invitations')).toContainText(member);
  await expect(page.getByTestId('members')).not.toContainText(member);
  await page.getByLabel('Username').fill('no-such-person');
  await page.getByRole('button', { name: 'Invite' }).click();
  await expect(page.locator('[data-testid="field-error"][data-field="username"]'))
    .toHaveText("No user is called 'no-such-person'.");
});

test('signed-in pages ask anonymous visitors to log in; admin pages refuse non-admins', async ({ page }, testInfo) => {
  for (const path of ['/settings', '/settings/sessions', '/settings/tokens', '/settings/organizations', '/admin/audit']) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(401);
    await expect(page.getByRole('heading', { name: 'Log in to continue' })).toBeVisible();
  }
  await signUp(page, name('curious', testInfo));
  // The 403 page, not the administration frame around a refusal.
  for (const path of ['/admin/audit', '/admin/outbox', '/admin/deleted']) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(403);
    await expect(page.getByTestId('forbidden')).toContainText('Only administrators');
    await expect(page.getByRole('navigation', { name: 'Administration' })).toHaveCount(0);
  }
});

test('changing the password: errors beside their field, in words; success said and the fields cleared', async ({ page }, testInfo) => {
  await signUp(page, name('password-changer', testInfo));
  await page.goto('/settings');
  await page.getByLabel('Current password').fill('not my passphrase at all');
  await page.getByLabel('New password').fill('a brand new passphrase');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.locator('[data-testid="field-error"][data-field="current_password"]'))
    .toHaveText('This is not your current password.');
  await expect(page.getByTestId('form-error')).toHaveCount(0);

  await page.getByLabel('Current password').fill('a settings passphrase');
  await page.getByLabel('New password').fill('a brand new passphrase');
  await page.getByRole('button', { name: 'Change password' }).click();
  // With or without JavaScript the page says so (without it, the post answers with the
  // settings page again, marked as done).
  await expect(page.getByTestId('form-done')).toContainText('Password changed');
  if (testInfo.project.name === 'ssr') {
    await expect(page).toHaveURL(/\/settings\?__done=%2Fapi%2Fchange_password$/);
  }
  await expect(page.getByLabel('Current password')).toHaveValue('');
  await expect(page.getByLabel('New password')).toHaveValue('');
});

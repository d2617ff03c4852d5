import { expect, signUp, test } from './fixtures';
import type { Browser, Page, TestInfo } from '@playwright/test';

// Each project (with JavaScript and without) runs these with accounts of its own.
const name = (stem: string, info: TestInfo) => `${stem}-${info.project.name}`;

/** A second person's browser, with JavaScript on or off as this project has it. */
async function otherBrowser(browser: Browser, baseURL?: string, javaScriptEnabled?: boolean): Promise<Page> {
  const context = await browser.newContext({ baseURL, javaScriptEnabled });
  return context.newPage();
}

test('an invited person joins by accepting, with the role they were invited as', async ({ page, browser, baseURL, javaScriptEnabled }, testInfo) => {
  const owner = name('noether', testInfo);
  const invitee = name('germain', testInfo);
  const org = name('rings', testInfo);
  const theirs = await otherBrowser(browser, baseURL, javaScriptEnabled);
  await signUp(theirs, invitee, 'an invitee passphrase');

  await signUp(page, owner, 'an owner passphrase');
  await page.goto('/settings/organizations');
  await page.getByLabel('Name (in URLs)').fill(org);
  await page.getByLabel('Display name').fill('Noether Rings');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByRole('heading', { name: 'Noether Rings' })).toBeVisible();

  const invite = page.getByTestId('invite-form');
  await invite.getByLabel('Username').fill(invitee);
  await invite.getByLabel('Role').selectOption('admin');
  await invite.getByRole('button', { name: 'Invite' }).click();
  await expect(page.getByTestId('form-done')).toHaveText(`Invitation sent to ${invitee}.`);
  await expect(page.getByTestId('invitations')).toContainText(invitee);
  await expect(page.getByTestId('members')).not.toContainText(invitee);

  // Invited is not yet a member: the organization's page is closed to them.
  const closed = await theirs.goto(`/settings/organizations/${org}`);
  expect(closed?.status()).toBe(403);
  await theirs.goto('/settings/organizations');
  const invitation = theirs.getByTestId('invitations').getByRole('listitem').filter({ hasText: org });
  await expect(invitation).toContainText('invited you as admin');
  await invitation.getByRole('button', { name: 'Accept' }).click();
  await expect(theirs).toHaveURL(new RegExp(`/settings/organizations/${org}$`));
  const row = theirs.getByTestId('members').getByRole('row').filter({ hasText: invitee });
  await expect(row).toContainText('admin');
  await theirs.context().close();

  await page.reload();
  await expect(page.getByTestId('members')).toContainText(invitee);
  await expect(page.getByTestId('invitations')).toHaveCount(0);
});

test('deleting one\'s account asks for the password and the username, then logs out for good', async ({ page }, testInfo) => {
  const username = name('leaving', testInfo);
  const passphrase = 'a leaving passphrase';
  await signUp(page, username, passphrase);
  await page.goto('/settings');

  const form = page.getByTestId('delete-account-form');
  await form.getByTestId('delete-password').fill(passphrase);
  await form.getByTestId('delete-confirm').fill('someone-else');
  await form.getByTestId('delete-account').click();
  await expect(page.locator('[data-testid="field-error"][data-field="confirm"]'))
    .toHaveText(`Type your username, ${username}, to confirm.`);
  await expect(page.getByTestId('viewer-name')).toHaveText(username);

  await form.getByTestId('delete-password').fill(passphrase);
  await form.getByTestId('delete-confirm').fill(username);
  await form.getByTestId('delete-account').click();
  await expect(page).toHaveURL(/\/\?deleted=1$/);
  await expect(page.getByTestId('account-deleted')).toHaveText('Your account is deleted.');
  await expect(page.getByRole('link', { name: 'Log in' })).toBeVisible();

  await page.getByRole('link', { name: 'Log in' }).click();
  await page.getByLabel('Username or e-mail').fill(username);
  await page.getByLabel('Password').fill(passphrase);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('form-error')).toContainText('wrong username or password');
});

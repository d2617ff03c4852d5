import { expect, signUp, test } from './fixtures';
import type { TestInfo } from '@playwright/test';

const name = (stem: string, info: TestInfo) => `${stem}-${info.project.name}`;

// A 1×1 PNG.
const png = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f000500' +
    '01ff89993d1d0000000049454e44ae426082',
  'hex',
);

test('a profile is edited, keeps what was typed on a refusal, and shows on the public page', async ({ page }, info) => {
  const user = name('profiled', info);
  await signUp(page, user);
  await page.goto('/settings');

  // A refused link: the error is beside its field, and nothing typed is lost.
  await page.getByTestId('display-name').fill('Ada Lovelace');
  await page.getByTestId('bio').fill('Notes on the analytical engine.');
  await page.getByTestId('links').fill('ftp://old.example.org');
  await page.getByTestId('save-profile').click();
  const linksError = page.locator('[data-testid="field-error"][data-field="links"]');
  await expect(linksError).toContainText('must start with https://');
  await expect(linksError).not.toContainText('links:');
  await expect(page.getByTestId('display-name')).toHaveValue('Ada Lovelace');
  await expect(page.getByTestId('bio')).toHaveValue('Notes on the analytical engine.');
  await expect(page.getByTestId('links')).toHaveValue('ftp://old.example.org');

  await page.getByTestId('links').fill('https://example.org/ada\nhttps://code.example.org/');
  await page.getByTestId('save-profile').click();
  await expect(page.getByText('Profile saved.')).toBeVisible();

  // The picture goes up by a plain form, with or without JavaScript.
  await page.getByTestId('avatar-file').setInputFiles({ name: 'me.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg/>') });
  await page.getByTestId('upload-avatar').click();
  await expect(page.getByTestId('picture-refused')).toBeVisible();
  await page.getByTestId('avatar-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png });
  await page.getByTestId('upload-avatar').click();
  await expect(page.getByTestId('picture-saved')).toBeVisible();

  await page.goto(`/${user}`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Ada Lovelace');
  await expect(page.getByTestId('bio')).toHaveText('Notes on the analytical engine.');
  const links = page.getByTestId('profile-links').getByRole('link');
  await expect(links).toHaveText(['example.org/ada', 'code.example.org']);
  await expect(links.first()).toHaveAttribute('rel', /nofollow/);
  const avatar = page.getByTestId('avatar');
  await expect(avatar).toBeVisible();
  expect(await avatar.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(1);
});

test('a failed sign-up keeps the username and address but never the password', async ({ page }, info) => {
  const user = name('keeper', info);
  await page.goto('/signup');
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('E-mail').fill(`${user}@example.org`);
  await page.getByLabel('Password').fill('password');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.locator('[data-testid="field-error"][data-field="password"]')).toContainText('common');
  await expect(page.getByLabel('Username')).toHaveValue(user);
  await expect(page.getByLabel('E-mail')).toHaveValue(`${user}@example.org`);
  if (info.project.name === 'ssr') {
    await expect(page.getByLabel('Password')).toHaveValue('');
  }
});

import { expect, test } from './fixtures';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page, TestInfo } from '@playwright/test';

const seedOnnx = path.resolve(__dirname, '../../seed/iris-species/model.onnx');

async function signUp(page: Page, username: string) {
  await page.goto('/signup');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('E-mail').fill(`${username}@example.org`);
  await page.getByLabel('Password').fill('a publishing passphrase');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page).toHaveURL(/\/$/);
}

const name = (stem: string, info: TestInfo) => `${stem}-${info.project.name}`;

/// Signs up a publisher and creates a draft listing; lands on its upload page.
async function newListing(page: Page, info: TestInfo) {
  const owner = name('publisher-mae', info);
  const slug = name('iris-onnx', info);
  await signUp(page, owner);
  await page.goto('/settings');
  await page.getByTestId('enable-publishing').click();
  await expect(page.getByTestId('publishing-on')).toBeVisible();
  await page.getByTestId('settings-new-model').click();
  await expect(page).toHaveURL(/\/new$/);
  await page.getByTestId('slug').fill(slug);
  await page.getByTestId('name').fill('Iris in ONNX');
  await page.getByTestId('summary').fill('Tells iris species apart from four measurements.');
  await page.getByTestId('task').selectOption('tabular');
  await page.getByTestId('tags').fill('onnx, tabular');
  await page.getByTestId('create-model').click();
  await expect(page).toHaveURL(new RegExp(`/${owner}/${slug}/upload$`));
  await expect(page.getByTestId('draft-version')).toHaveText('1.0.0');
  return { owner, slug };
}

test('without JavaScript the upload page points to the command-line client', async ({ page }, info) => {
  test.skip(info.project.name !== 'ssr', 'the JavaScript-less rendering');
  await newListing(page, info);
  await expect(page.getByTestId('needs-js')).toContainText('needs JavaScript');
  await expect(page.getByTestId('needs-js')).toContainText('bazaar push');
  await expect(page.getByTestId('no-files')).toBeVisible();
});

test('a publisher uploads files, publishes the version and sees them listed', async ({ page }, info) => {
  test.skip(info.project.name !== 'hydrated', 'uploading needs JavaScript');
  const { owner, slug } = await newListing(page, info);
  await expect(page.getByTestId('needs-js')).toHaveCount(0);
  await expect(page.getByTestId('no-files')).toBeVisible();
  await expect(page.getByTestId('publish-version')).toBeDisabled();

  await page.getByTestId('file-input').setInputFiles([
    { name: 'README.md', mimeType: 'text/markdown', buffer: Buffer.from('# Iris\n\nA tiny classifier.\n') },
    { name: 'model.onnx', mimeType: 'application/octet-stream', buffer: fs.readFileSync(seedOnnx) },
    // A pickle is refused, and the refusal shows on that file alone.
    { name: 'weights.pt', mimeType: 'application/octet-stream', buffer: Buffer.from('\x80\x02}q\x00.') },
  ]);

  const rows = page.getByTestId('upload-row');
  await expect(rows).toHaveCount(3);
  for (const file of ['README.md', 'model.onnx']) {
    const row = page.locator(`[data-testid="upload-row"][data-file="${file}"]`);
    await expect(row.getByTestId('upload-percent')).toHaveText('100%');
    await expect(row.locator('progress')).toHaveAttribute('value', '100.0');
    await expect(row).toHaveClass(/done/);
  }
  const refused = page.locator('[data-testid="upload-row"][data-file="weights.pt"]');
  await expect(refused.getByTestId('upload-error')).toContainText(/safetensors|ONNX/i);
  await expect(page.locator('[data-testid="upload-row"][data-file="model.onnx"]')).toContainText('stored as onnx');

  const stored = page.getByTestId('stored-files');
  await expect(stored).toContainText('README.md');
  await expect(stored).toContainText('model.onnx');
  await expect(stored).toContainText('opset');
  await expect(stored).not.toContainText('weights.pt');
  if (process.env.BAZAAR_E2E_SCREENSHOTS) {
    await page.screenshot({ path: path.join(process.env.BAZAAR_E2E_SCREENSHOTS, 'upload-page.png'), fullPage: true });
  }

  await page.getByTestId('publish-version').click();
  await expect(page).toHaveURL(new RegExp(`/${owner}/${slug}$`));
  const files = page.getByTestId('files');
  await expect(files).toContainText('README.md');
  await expect(files).toContainText('model.onnx');
  const onnxRow = files.locator('tr', { hasText: 'model.onnx' });
  await expect(onnxRow).toContainText('onnx');
  await expect(onnxRow).toContainText('opset');
  await expect(onnxRow).toContainText('parameters');
  await expect(files).not.toContainText('weights.pt');
});

import { expect, signUp as signUpWith, test } from './fixtures';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page, TestInfo } from '@playwright/test';

const seedOnnx = path.resolve(__dirname, '../../seed/iris-species/model.onnx');

const signUp = (page: Page, username: string) => signUpWith(page, username, 'a publishing passphrase');

const name = (stem: string, info: TestInfo) => `${stem}-${info.project.name}`;

// The card names the demo file anyone may download and, later, try in the page.
const card = '---\nlicense: mit\ndemo:\n  file: model.onnx\n  task: tabular\n---\n\n# Iris\n';

/// Signs up a publisher and creates a draft listing; lands on its upload page.
async function newListing(page: Page, info: TestInfo, stem = 'mae') {
  const owner = name(`publisher-${stem}`, info);
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
  // The listing is sold from the start, so its first version is never "unavailable".
  await page.getByTestId('offer-kind').selectOption('paid');
  await page.getByTestId('offer-price').fill('5.00');
  await page.getByTestId('offer-terms').fill('Use in one product.');
  await page.getByTestId('tags').fill('onnx, tabular');
  await page.getByTestId('card').fill(card);
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

test('a publisher uploads files, publishes the version and sees them listed', async ({ page, request }, info) => {
  test.skip(info.project.name !== 'hydrated', 'uploading needs JavaScript');
  const { owner, slug } = await newListing(page, info);
  await expect(page.getByTestId('needs-js')).toHaveCount(0);
  await expect(page.getByTestId('no-files')).toBeVisible();
  await expect(page.getByTestId('publish-version')).toBeDisabled();

  await page.getByTestId('file-input').setInputFiles([
    // The README becomes the card when the version is published, as with `bazaar push`.
    { name: 'README.md', mimeType: 'text/markdown', buffer: Buffer.from(`${card}\nA tiny classifier.\n`) },
    { name: 'model.onnx', mimeType: 'application/octet-stream', buffer: fs.readFileSync(seedOnnx) },
    // A pickle is refused, and the refusal shows on that file alone.
    { name: 'weights.pt', mimeType: 'application/octet-stream', buffer: Buffer.from('\x80\x02}q\x00.') },
  ]);

  const rows = page.getByTestId('upload-row');
  await expect(rows).toHaveCount(3);
  // The newest rows come first, right under the drop zone.
  await expect(rows.first()).toHaveAttribute('data-file', 'weights.pt');
  for (const file of ['README.md', 'model.onnx']) {
    const row = page.locator(`[data-testid="upload-row"][data-file="${file}"]`);
    await expect(row.getByTestId('upload-percent')).toHaveText('100%');
    await expect(row.locator('progress')).toHaveAttribute('value', '100.0');
    await expect(row).toHaveClass(/done/);
  }
  const refused = page.locator('[data-testid="upload-row"][data-file="weights.pt"]');
  await expect(refused.getByTestId('upload-error')).toContainText(/safetensors|ONNX/i);
  // Worded as the forms word field errors: a sentence, no internal key.
  await expect(refused.getByTestId('upload-error')).toHaveText(/^weights\.pt is refused .*\.$/s);
  // Refused is not finished: no percentage, no bar.
  await expect(refused.getByTestId('upload-percent')).toHaveText('Not stored');
  await expect(refused.locator('progress')).toBeHidden();
  await expect(page.locator('[data-testid="upload-row"][data-file="model.onnx"]')).toContainText('stored as onnx');

  const stored = page.getByTestId('stored-files');
  await expect(stored).toContainText('README.md');
  await expect(stored).toContainText('model.onnx');
  await expect(stored).toContainText('opset');
  await expect(stored).not.toContainText('weights.pt');

  // A file uploaded by mistake comes out of the draft again.
  await page.getByTestId('file-input').setInputFiles([
    { name: 'mistake.txt', mimeType: 'text/plain', buffer: Buffer.from('not meant for this model') },
  ]);
  await expect(stored.locator('tr[data-file="mistake.txt"]')).toBeVisible();
  await stored.locator('tr[data-file="mistake.txt"]').getByTestId('remove-file').click();
  await expect(page.getByTestId('form-done')).toHaveText('File removed.');
  await expect(stored.locator('tr[data-file="mistake.txt"]')).toHaveCount(0);
  await expect(stored.locator('tbody tr')).toHaveCount(2);
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
  // The uploaded README is the card now.
  await expect(page.getByText('A tiny classifier.')).toBeVisible();

  // The publisher may download every file; a visitor only the card's demo file, since the
  // model is sold.
  await expect(files.getByTestId('download')).toHaveCount(2);
  const fileUrl = (file: string) => `/api/v1/models/${owner}/${slug}/versions/1.0.0/files/${file}`;
  expect((await request.get(fileUrl('model.onnx'))).status()).toBe(200);
  expect((await request.get(fileUrl('README.md'))).status()).toBe(403);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    onnxRow.getByTestId('download').click(),
  ]);
  expect(download.suggestedFilename()).toBe('model.onnx');
  const saved = await download.path();
  expect(fs.statSync(saved).size).toBe(fs.statSync(seedOnnx).size);
});

const MiB = 1024 * 1024;
const uploadRow = (page: Page, file: string) => page.locator(`[data-testid="upload-row"][data-file="${file}"]`);

test('an upload survives a dropped connection and a reload, and can be cancelled', async ({ page }, info) => {
  test.skip(info.project.name !== 'hydrated', 'uploading needs JavaScript');
  test.setTimeout(120_000);
  await newListing(page, info, 'resume');
  // 20 MiB on disk (three 8 MiB requests), so choosing it again is the same file to the
  // browser: same name, size and modification time.
  const big = (name: string) => {
    const file = info.outputPath(name);
    if (!fs.existsSync(file)) fs.writeFileSync(file, Buffer.alloc(20 * MiB, name.charCodeAt(5)));
    return file;
  };
  const uploads = '**/api/v1/uploads/*';
  const isPatch = (route: import('@playwright/test').Route) => route.request().method() === 'PATCH';

  // The connection drops once, mid-file: the uploader asks for the offset and goes on.
  let patches = 0;
  await page.route(uploads, (route) =>
    isPatch(route) && ++patches === 2 ? route.abort('connectionreset') : route.continue(),
  );
  await page.getByTestId('file-input').setInputFiles(big('part-a.txt'));
  await expect(uploadRow(page, 'part-a.txt')).toHaveClass(/done/, { timeout: 60_000 });
  expect(patches).toBeGreaterThanOrEqual(4);
  await page.unroute(uploads);

  // Cancel stops the file and the server forgets it.
  await page.route(uploads, (route) => {
    if (isPatch(route) && route.request().headers()['upload-offset'] !== '0') return;
    return route.continue();
  });
  await page.getByTestId('file-input').setInputFiles(big('part-c.txt'));
  const rowC = uploadRow(page, 'part-c.txt');
  await expect(rowC.getByTestId('upload-percent')).not.toHaveText('0%');
  await rowC.getByTestId('cancel-upload').click();
  await expect(rowC).toHaveClass(/cancelled/);
  await page.unroute(uploads);

  // The page is reloaded while the second part is on its way: dropping the same file again
  // continues from what the server has.
  let held = false;
  await page.route(uploads, (route) => {
    if (isPatch(route) && route.request().headers()['upload-offset'] !== '0') {
      held = true; // never answered: the reload cuts it off
      return;
    }
    return route.continue();
  });
  await page.getByTestId('file-input').setInputFiles(big('part-b.txt'));
  await expect.poll(() => held).toBe(true);
  await page.unroute(uploads);
  await page.reload();
  await expect(page.getByTestId('resume-hint')).toContainText('part-b.txt');
  const offsets: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'PATCH') offsets.push(request.headers()['upload-offset']);
  });
  await page.getByTestId('file-input').setInputFiles(big('part-b.txt'));
  await expect(uploadRow(page, 'part-b.txt')).toHaveClass(/done/, { timeout: 60_000 });
  // It went on from what the server had (at least the first part), not from zero.
  expect(Number(offsets[0])).toBeGreaterThanOrEqual(8 * MiB);

  await page.reload();
  const stored = page.getByTestId('stored-files');
  await expect(stored).toContainText('part-a.txt');
  await expect(stored).toContainText('part-b.txt');
  await expect(stored).not.toContainText('part-c.txt');
  await expect(page.getByTestId('resume-hint')).toHaveCount(0);
});

test('a publisher edits a listing and deletes it', async ({ page }, info) => {
  const { owner, slug } = await newListing(page, info, 'editor');
  await page.getByTestId('listing-settings').click();
  await expect(page).toHaveURL(new RegExp(`/${owner}/${slug}/settings$`));
  await page.getByTestId('name').fill('Iris, renamed');
  await page.getByTestId('summary').fill('Now with a better summary.');
  await page.getByTestId('save-listing').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Settings of Iris, renamed');
  await expect(page.getByTestId('summary')).toHaveValue('Now with a better summary.');
  // A draft without a published version cannot be listed yet.
  await expect(page.getByTestId('visibility')).toContainText('Draft');
  await expect(page.getByTestId('toggle-published')).toBeDisabled();
  if (process.env.BAZAAR_E2E_SCREENSHOTS && info.project.name === 'hydrated') {
    await page.screenshot({ path: path.join(process.env.BAZAAR_E2E_SCREENSHOTS, 'listing-settings.png'), fullPage: true });
  }

  if (info.project.name === 'hydrated') {
    await page.getByTestId('confirm-delete').fill('not-the-slug');
    await page.getByTestId('delete-listing').click();
    await expect(page.getByTestId('form-error')).toContainText(`Type '${slug}'`);
  }
  await page.getByTestId('confirm-delete').fill(slug);
  await page.getByTestId('delete-listing').click();
  // Deleting lands on the account's deleted models, which says so and offers it back.
  await expect(page).toHaveURL(/\/settings\/deleted\?deleted=/);
  await expect(page.getByTestId('deleted-notice')).toContainText(`${owner}/${slug} is deleted`);
  const gone = await page.request.get(`/${owner}/${slug}/settings`);
  expect(gone.status()).toBe(404);

  const deleted = page.locator(`[data-model="${owner}/${slug}"]`);
  await deleted.getByTestId('restore').click();
  await expect(page.getByTestId('form-done')).toContainText('Restored.');
  await expect(page.getByTestId('deleted-notice')).toHaveCount(0);
  await expect(deleted).toHaveCount(0);
  expect((await page.request.get(`/${owner}/${slug}/settings`)).status()).toBe(200);

  // Deleted again, it is purged only once its name is typed out.
  await page.goto(`/${owner}/${slug}/settings`);
  await page.getByTestId('confirm-delete').fill(slug);
  await page.getByTestId('delete-listing').click();
  await expect(deleted).toBeVisible();
  await deleted.getByTestId('confirm-purge').fill(slug);
  await deleted.getByTestId('purge').click();
  await expect(page.getByTestId('field-error')).toContainText(`Type '${owner}/${slug}'`);
  await expect(deleted).toBeVisible();
  await deleted.getByTestId('confirm-purge').fill(`${owner}/${slug}`);
  await deleted.getByTestId('purge').click();
  await expect(page.getByTestId('form-done')).toContainText('Purged');
  await expect(deleted).toHaveCount(0);
});

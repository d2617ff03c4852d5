import { expect, test } from './fixtures';

// The demo catalog compiled into the binary, and all-MiniLM-L6-v2, which the test command seeds
// from disk as the run command does.
const SEEDED = ['Digit Classifier', 'Shape Classifier', 'Iris Species', 'Diabetes Progression',
  'Sentiment Mini', 'all-MiniLM-L6-v2'];

test('the catalog lists the seeded models', async ({ page }) => {
  await page.goto('/');
  const cards = page.getByTestId('model-card');
  await expect(cards).toHaveCount(SEEDED.length);
  for (const name of SEEDED) {
    await expect(page.getByRole('link', { name, exact: true })).toBeVisible();
  }
  await expect(page.getByTestId('result-count')).toHaveText(`${SEEDED.length} models`);
});

test('a model page shows its files with their SHA-256', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('link', { name: 'Digit Classifier', exact: true }).click();
  await expect(page).toHaveURL(/\/sklearn-lab\/digit-classifier$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Digit Classifier');
  const rows = page.getByTestId('files').locator('tbody tr');
  await expect(rows).toHaveCount(4);
  await expect(rows.filter({ hasText: 'model.onnx' })).toContainText('demo');
  const hashes = await page.getByTestId('sha256').allTextContents();
  expect(hashes).toHaveLength(4);
  for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
});

test('an unknown page is a 404 with a way back', async ({ page }) => {
  const response = await page.goto('/nobody/nothing-here');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: "We couldn't find that page" })).toBeVisible();
  await page.getByRole('link', { name: 'Browse all models' }).click();
  await expect(page.getByTestId('model-card')).toHaveCount(SEEDED.length);
});

test('typing and submitting a search give the same results, and the box keeps the query', async ({ page }, testInfo) => {
  await page.goto('/');
  const search = page.getByRole('searchbox', { name: 'Search models' });
  const cards = page.getByTestId('model-card');
  if (testInfo.project.name === 'hydrated') {
    // Typing asks the server, as submitting does: the address says what is shown. Keys typed
    // before the page has hydrated reach no script (Enter still submits the form), so type
    // again until the page listens.
    await expect(async () => {
      await search.fill('');
      await search.fill('iris');
      await expect(page).toHaveURL(/\/\?q=iris$/, { timeout: 1000 });
    }).toPass();
    await expect(cards).toHaveCount(1);
  } else {
    await search.fill('iris');
    // Without JavaScript typing changes nothing until the form is submitted.
    await expect(cards).toHaveCount(SEEDED.length);
  }
  await search.press('Enter');
  await expect(page).toHaveURL(/\/\?q=iris$/);
  await expect(cards).toHaveCount(1);
  await expect(cards.first()).toContainText('Iris Species');
  await expect(search).toHaveValue('iris');
  // A reload (or a shared link) shows the same search, with the query echoed in the box.
  await page.reload();
  await expect(cards).toHaveCount(1);
  await expect(search).toHaveValue('iris');
});

test('a publisher page lists only their models', async ({ page }) => {
  await page.goto('/tabular-works');
  await expect(page.getByRole('heading', { level: 1, name: 'Tabular Works' })).toBeVisible();
  await expect(page.getByTestId('model-card')).toHaveCount(2);
});

import { expect, signUp, test } from './fixtures';

// A newcomer buys the paid demo model through the built-in test checkout, sees the licence
// and its key, and downloads the file the licence opens; then subscribes to the subscription
// model, cancels, and loses access when the period ends.
test('buy a licence, download, subscribe, cancel, lose access at the period end', async ({ page }, testInfo) => {
  await signUp(page, `shopper-${testInfo.project.name}`);

  await page.goto('/tabular-works/diabetes-progression');
  const panel = page.getByTestId('license-panel');
  await expect(panel).toContainText('perpetual licence');
  await expect(page.getByTestId('files').getByTestId('download')).toHaveCount(1); // the demo only
  await panel.getByTestId('buy').click();
  await expect(page).toHaveURL(/\/test-checkout\/cs_test_/);
  await expect(page.getByTestId('amount')).toHaveText('9.00 USD');
  await page.getByTestId('pay-succeed').click();

  await expect(page).toHaveURL(/\/licenses\?order=\d+/);
  const licence = page.locator('li.license[data-model="tabular-works/diabetes-progression"]');
  await expect(licence.getByTestId('license-status')).toHaveText('active');
  await expect(licence.getByTestId('license-key')).toHaveValue(/^bzr1\./);

  await page.goto('/tabular-works/diabetes-progression');
  await expect(page.getByTestId('offer-held')).toBeVisible();
  const links = page.getByTestId('files').getByTestId('download');
  await expect(links).not.toHaveCount(1);
  const hrefs = await links.evaluateAll((els) => els.map((e) => (e as HTMLAnchorElement).href));
  for (const href of hrefs) {
    const response = await page.request.get(href);
    expect(response.status(), href).toBe(200);
  }

  await page.goto('/tabular-works/sentiment-mini');
  await page.getByTestId('license-panel').getByTestId('buy').click();
  await page.getByTestId('pay-succeed').click();
  const subscription = page.locator('li.license[data-model="tabular-works/sentiment-mini"]');
  await expect(subscription.getByTestId('license-status')).toHaveText('active');
  await subscription.getByTestId('manage-subscription').click();
  await expect(page).toHaveURL(/\/test-billing\//);
  await page.getByTestId('cancel-subscription').click();
  await expect(page.getByTestId('subscription-state')).toContainText('cancelled');
  await page.getByTestId('advance-period').click();
  await expect(page.getByTestId('subscription-state')).toContainText('ended');
  await page.getByTestId('billing-return').click();
  await expect(page).toHaveURL(/\/licenses/);
  // The provider's event arrives on its own time, as Stripe's would.
  await expect(async () => {
    await page.reload();
    await expect(subscription.getByTestId('license-status')).toHaveText('lapsed', { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
});

test('the licence panel fits a phone', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/tabular-works/diabetes-progression');
  const panel = page.getByTestId('license-panel');
  await expect(panel).toBeVisible();
  const box = await panel.boundingBox();
  expect(box!.x + box!.width).toBeLessThanOrEqual(390);
});

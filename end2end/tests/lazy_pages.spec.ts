import { expect, signUp, test } from './fixtures';
import type { Page } from '@playwright/test';

// The signed-in pages' code is split out of the hydrate bundle (app/src/lazy_pages.rs) into
// wasm modules the browser fetches only for those pages: `split_<group>_*.wasm`, one per group
// of pages, and `chunk_*.wasm`, code groups share. A visitor's pages must fetch none of them;
// a lazy page must fetch its group's and still hydrate, whether it is the first page loaded
// (hydration waits for the module) or reached by a link (the router fetches it).

const lazyModule = /\/pkg\/[^/]+\/(split_[a-z_]+|chunk)_\d+\.wasm$/;

/** Every wasm file and every page load (document request) the browser makes, from now on. */
function networkLog(page: Page) {
  const log = { wasm: [] as string[], documents: [] as string[] };
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (path.endsWith('.wasm')) log.wasm.push(path);
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) log.documents.push(path);
  });
  return {
    lazy: () => log.wasm.filter((path) => lazyModule.test(path)),
    group: (name: string) => log.wasm.filter((path) => path.includes(`/split_${name}_`)),
    documents: () => [...log.documents],
    clear: () => {
      log.wasm.length = 0;
      log.documents.length = 0;
    },
  };
}

test('visitors load no lazy module; a lazy page loads its own and hydrates', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'hydrated', 'the split concerns the hydrate bundle');
  const network = networkLog(page);

  // The catalog, a model page and signing up (sign-up, confirmation, home): main bundle only.
  await page.goto('/');
  await page.waitForLoadState('networkidle');
  await page.goto('/sklearn-lab/iris-species');
  await page.waitForLoadState('networkidle');
  await signUp(page, `lazy-${testInfo.project.name}`);
  await page.waitForLoadState('networkidle');
  expect(network.lazy(), 'lazy modules fetched by visitors').toEqual([]);

  // A link to a lazy page: the router fetches the account pages' module, no page load.
  network.clear();
  await page.getByTestId('viewer-name').click();
  await page.getByTestId('account-menu').getByRole('link', { name: 'Settings' }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByTestId('account-username')).toHaveText(`lazy-${testInfo.project.name}`);
  expect(network.group('account_pages')).toHaveLength(1);
  expect(network.group('publishing_pages')).toEqual([]);
  expect(network.documents(), 'a client-side navigation').toEqual([]);

  // A lazy page as the first page: the server names its modules for preloading, the browser
  // fetches them and hydrates the page, whose buttons then act without a page load.
  const html = await (await page.request.get('/settings')).text();
  expect(html).toMatch(/<link [^>]*href="\/pkg\/[^"]+\/split_account_pages_\d+\.wasm"/);
  const home = await (await page.request.get('/')).text();
  expect(home).not.toMatch(/split_[a-z_]+_\d+\.wasm/);

  network.clear();
  await page.goto('/settings');
  await page.waitForLoadState('networkidle');
  expect(network.group('account_pages')).toHaveLength(1);
  network.clear();
  await page.getByTestId('enable-publishing').click();
  await expect(page.getByTestId('publishing-on')).toBeVisible();
  // The header learns it from the page's action, without asking the server for a new page.
  await expect(page.getByTestId('new-model')).toBeVisible();
  expect(network.documents(), 'the action ran in the page').toEqual([]);

  // Another group's page, by a link: its own module.
  await page.getByTestId('settings-new-model').click();
  await expect(page).toHaveURL(/\/new$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('New model');
  expect(network.group('publishing_pages')).toHaveLength(1);
  expect(network.documents()).toEqual([]);
});

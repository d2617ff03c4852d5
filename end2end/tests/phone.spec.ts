import { expect, test } from './fixtures';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from '@playwright/test';

// Every route the router knows (server/tests/site.rs keeps this list complete).
const { routes } = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../routes.json'), 'utf8')) as {
  routes: { route: string; visit: string }[];
};
const WIDTHS = [360, 390];

/**
 * What sticks out sideways: the document wider than the viewport, or an element past either
 * edge that no scrolling or clipping box around it holds.
 */
async function overflow(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const problems: string[] = [];
    if (document.documentElement.scrollWidth > width) {
      problems.push(`the page is ${document.documentElement.scrollWidth} px wide`);
    }
    const held = (el: Element) => {
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        if (getComputedStyle(up).overflowX !== 'visible') return true;
      }
      return false;
    };
    for (const el of Array.from(document.body.querySelectorAll('*'))) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      if ((box.right > width + 1 || box.left < -1) && !held(el)) {
        const classes = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
        problems.push(`<${el.tagName.toLowerCase()}${classes}> spans ${Math.round(box.left)}–${Math.round(box.right)} px`);
      }
    }
    return problems.slice(0, 8);
  });
}

async function everyPageFits(page: Page, fill: (visit: string) => string, who: string) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    for (const { visit } of routes) {
      const url = fill(visit);
      await page.goto(url);
      expect(await overflow(page), `${url} at ${width} px, ${who}`).toEqual([]);
    }
  }
}

/** An admin who publishes, made as an operator would, then logged in through the form. */
async function adminLoggedIn(page: Page, me: string, passphrase: string) {
  const dataDir = process.env.BAZAAR_E2E_DATA_DIR!;
  execFileSync(
    process.env.BAZAAR_E2E_BIN!,
    ['admin', 'create', '--username', me, '--email', `${me}@example.org`, '--admin', '--publisher',
      '--data-dir', dataDir, '--database-url', `sqlite://${dataDir}/bazaar.db?mode=rwc`],
    { input: `${passphrase}\n` },
  );
  await page.goto('/login');
  await page.getByLabel('Username or e-mail').fill(me);
  await page.getByLabel('Password').fill(passphrase);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('viewer-name')).toHaveText(me);
}

test('every page fits a phone, signed out and signed in as an admin who publishes', async ({ page }, info) => {
  test.setTimeout(240_000);
  const me = `phone-${info.project.name}`;
  const model = 'a-model-with-a-long-name-for-a-narrow-screen';
  const org = `phone-org-${info.project.name}`;
  const fill = (visit: string) => visit.replace('{me}', me).replace('{model}', model).replace('{org}', org);

  await everyPageFits(page, fill, 'signed out');

  await page.setViewportSize({ width: 1280, height: 800 });
  await adminLoggedIn(page, me, 'a phone layout passphrase');
  await page.goto('/new');
  await page.getByTestId('slug').fill(model);
  await page.getByTestId('name').fill('A model with a long name for a narrow screen');
  await page.getByTestId('task').selectOption('tabular');
  await page.getByTestId('offer-kind').selectOption('open');
  await page.getByTestId('offer-spdx').selectOption('MIT');
  await page.getByTestId('create-model').click();
  await expect(page).toHaveURL(new RegExp(`/${me}/${model}/upload$`));
  if (info.project.name === 'hydrated') {
    // Upload rows live in the page only: check them here, a stored file and a refused one
    // whose explanation carries long unbroken code.
    await page.getByTestId('file-input').setInputFiles([
      { name: 'README.md', mimeType: 'text/markdown', buffer: Buffer.from('# A model\n') },
      { name: 'weights.pt', mimeType: 'application/octet-stream', buffer: Buffer.from('\x80\x02}q\x00.') },
    ]);
    await expect(page.getByTestId('upload-error')).toBeVisible();
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      expect(await overflow(page), `upload rows at ${width} px`).toEqual([]);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  }
  await page.goto('/settings/organizations');
  await page.getByLabel('Name (in URLs)').fill(org);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(org);

  await everyPageFits(page, fill, 'signed in');
});

test('the signed-in header keeps every account link in a menu on a phone', async ({ page }, info) => {
  const me = `menu-${info.project.name}`;
  await page.setViewportSize({ width: 360, height: 740 });
  await adminLoggedIn(page, me, 'a header menu passphrase');
  await page.getByTestId('viewer-name').click();
  const menu = page.getByTestId('account-menu');
  for (const name of ['Settings', 'New model', 'Admin']) {
    await expect(menu.getByRole('link', { name })).toBeInViewport();
  }
  await expect(menu.getByRole('button', { name: 'Log out' })).toBeInViewport();
  await menu.getByRole('link', { name: 'Settings' }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await page.getByTestId('viewer-name').click();
  await page.getByTestId('account-menu').getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('link', { name: 'Log in' })).toBeVisible();
});

import { expect, signUp, test } from './fixtures';

// A name that closes <title> and injects a same-site redirect: were it markup, the browser
// would leave the page for /login at once. `&amp;` must stay those five characters.
const hostile = (field: string) =>
  `${field}</title><meta http-equiv="refresh" content="0;url=/login"><b>&amp;`;

// Every page type is covered on the server (server/tests/head_injection.rs); here the browser
// checks what only it can: no refresh fires, and hydration leaves document.title raw.
test('names users choose stay text in the title and the page', async ({ page, baseURL }, testInfo) => {
  const suffix = testInfo.project.name;
  const user = `titles-${suffix}`;
  await signUp(page, user);
  // Server functions called the way the page's own forms call them (same origin).
  const call = (fn: string, form: Record<string, string>) =>
    page.request.post(`/api/${fn}`, { form, headers: { origin: baseURL! } });
  const org = `hostile-${suffix}`;
  expect((await call('create_org', { name: org, display_name: hostile('org') })).status()).toBeLessThan(400);
  for (const [path, title] of [
    [`/${org}`, hostile('org')],
    [`/settings/organizations/${org}`, hostile('org')],
  ]) {
    await page.goto(path);
    // Hydrated: the bundle has loaded and set document.title itself, from the raw name.
    await page.waitForLoadState('networkidle');
    // Time for a refresh to fire, had one been injected.
    await page.waitForTimeout(500);
    expect(new URL(page.url()).pathname, `${path} stays put`).toBe(path);
    expect(await page.title(), `${path} title`).toBe(`${title} · Bazaar`);
    await expect(page.locator('b', { hasText: '&amp;' })).toHaveCount(0);
  }
});

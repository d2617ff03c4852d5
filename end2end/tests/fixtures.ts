import { expect, test as base } from '@playwright/test';

// Every spec fails on an uncaught error or a console error: a hydration mismatch, or a
// Content-Security-Policy violation (Chromium reports those in the console, script or not).
// Failed loads are left to the specs, which assert the statuses they expect.
export const test = base.extend<{ browserErrors: void }>({
  browserErrors: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
          problems.push(`console: ${msg.text()}`);
        }
      });
      await use();
      expect(problems, 'browser errors').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

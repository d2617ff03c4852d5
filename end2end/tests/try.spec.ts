import { expect, test } from './fixtures';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from '@playwright/test';

// What onnxruntime answers for one input row of each seeded demo file, and sample digit images;
// both written by scripts/seed-models/make_seed_models.py.
const fixtures = path.resolve(__dirname, '../fixtures');
const expected: Record<string, { input: number[]; output: number[] }> = JSON.parse(
  fs.readFileSync(path.join(fixtures, 'demos.json'), 'utf8'),
);

const isRunner = (url: string) => /runner_web|try-worker/.test(url);

async function openDemo(page: Page) {
  await page.getByTestId('try-open').click();
  await expect(page.getByTestId('try-progress-text')).toHaveText('Ready', { timeout: 30_000 });
}

test('a tabular demo runs in the page and gives the reference output', async ({ page }, info) => {
  test.skip(info.project.name !== 'hydrated', 'the demo runs in the browser');
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto('/tabular-works/diabetes-progression');
  await expect(page.getByTestId('try-panel')).toBeVisible();
  // The first load fetches no runner code and no demo file.
  expect(requests.filter(isRunner)).toEqual([]);
  expect(requests.filter((u) => u.endsWith('/demo.onnx'))).toEqual([]);

  await openDemo(page);
  // Long tasks on the main thread while the demo runs: none over 50 ms (it runs in the worker).
  await page.evaluate(() => {
    (window as unknown as { longTasks: number[] }).longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) (window as unknown as { longTasks: number[] }).longTasks.push(entry.duration);
    }).observe({ type: 'longtask' });
  });
  expect(requests.some((u) => u.endsWith('/runner_web_bg.wasm'))).toBe(true);
  // Whichever backend runs it is named; when it is the CPU, the page says why.
  const backend = await page.getByTestId('try-backend').textContent();
  expect(['WebGPU', 'CPU (wasm SIMD)']).toContain(backend);
  if (backend !== 'WebGPU') await expect(page.getByTestId('try-why')).not.toHaveText('—');

  const { input, output } = expected['diabetes-progression'];
  // A field that is not a number is refused by name, and nothing runs.
  await page.getByTestId('try-field-0').fill('old');
  await page.getByTestId('try-run').click();
  await expect(page.getByTestId('try-error')).toContainText('must be a number, not "old"');
  for (const [i, v] of input.entries()) await page.getByTestId(`try-field-${i}`).fill(String(v));
  await page.getByTestId('try-run').click();
  const value = page.getByTestId('try-value');
  await expect(value).toHaveCount(1);
  const got = Number(await value.getAttribute('data-value'));
  expect(Math.abs(got - output[0])).toBeLessThan(1e-3 * Math.max(1, Math.abs(output[0])));
  await expect(page.getByTestId('try-median-latency')).toContainText('over 1 run');

  const longTasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
  expect(longTasks.filter((d) => d > 50), 'main-thread long tasks').toEqual([]);

  // Switching to the CPU explicitly gives the same answer.
  await page.getByTestId('try-backend-choice').selectOption('cpu');
  await expect(page.getByTestId('try-backend')).toHaveText('CPU (wasm SIMD)');
  await page.getByTestId('try-run').click();
  await expect(page.getByTestId('try-median-latency')).toContainText('over 1 run');
  expect(Math.abs(Number(await value.getAttribute('data-value')) - output[0])).toBeLessThan(1e-3 * Math.max(1, Math.abs(output[0])));

  // A second visit takes the demo file from the cache, not the network.
  requests.length = 0;
  await page.reload();
  await openDemo(page);
  expect(requests.filter((u) => u.endsWith('/demo.onnx'))).toEqual([]);
  await expect(page.getByTestId('try-loaded-in')).toContainText('from cache');
});

test('the digit demo reads sample images and names the digit', async ({ page }, info) => {
  test.skip(info.project.name !== 'hydrated', 'the demo runs in the browser');
  await page.goto('/sklearn-lab/digit-classifier');
  await openDemo(page);
  for (const digit of ['0', '3', '7']) {
    await page.getByTestId('try-image').setInputFiles(path.join(fixtures, 'digits', `${digit}.png`));
    await expect(page.getByTestId('try-class').first()).toHaveAttribute('data-label', digit);
  }
  // Something that is not an image is refused by name.
  await page.getByTestId('try-image').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await expect(page.getByTestId('try-error')).toContainText('notes.txt is not a PNG, JPEG, WebP or GIF image');
});

test('the tabular classification demo matches the reference probabilities', async ({ page }, info) => {
  test.skip(info.project.name !== 'hydrated', 'the demo runs in the browser');
  await page.goto('/sklearn-lab/iris-species');
  await openDemo(page);
  const { input, output } = expected['iris-species'];
  for (const [i, v] of input.entries()) await page.getByTestId(`try-field-${i}`).fill(String(v));
  await page.getByTestId('try-run').click();
  const best = page.getByTestId('try-class').first();
  await expect(best).toBeVisible();
  const top = Math.max(...output);
  expect(Math.abs(Number(await best.getAttribute('data-p')) - top)).toBeLessThan(1e-3);
});

test('the text demo classifies a review with the reference probabilities', async ({ page }, info) => {
  test.skip(info.project.name !== 'hydrated', 'the demo runs in the browser');
  await page.goto('/tabular-works/sentiment-mini');
  await openDemo(page);
  await page.getByTestId('try-run').click();
  await expect(page.getByTestId('try-error')).toHaveText('Type some text first.');
  const { text, output } = expected['sentiment-mini'] as unknown as { text: string; output: number[] };
  await page.getByTestId('try-text').fill(text);
  await page.getByTestId('try-run').click();
  const best = page.getByTestId('try-class').first();
  await expect(best).toHaveAttribute('data-label', 'positive');
  expect(Math.abs(Number(await best.getAttribute('data-p')) - Math.max(...output))).toBeLessThan(1e-3);
  await expect(page.getByTestId('try-known')).toContainText('great');
});

test('every seeded model page fits a phone with its demo open', async ({ page }, info) => {
  test.skip(info.project.name !== 'hydrated', 'the demo runs in the browser');
  for (const width of [360, 390]) {
    await page.setViewportSize({ width, height: 800 });
    for (const model of ['sklearn-lab/digit-classifier', 'sklearn-lab/iris-species',
      'tabular-works/diabetes-progression', 'tabular-works/sentiment-mini']) {
      await page.goto(`/${model}`);
      await openDemo(page);
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(scroll, `${model} at ${width} px`).toBeLessThanOrEqual(width);
    }
  }
});

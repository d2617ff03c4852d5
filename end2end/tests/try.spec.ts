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
  await expect(page.getByTestId('try-progress-text')).toHaveText('Ready', { timeout: 60_000 });
}

/** The backend each project's browser must get: SwiftShader's WebGPU, or the CPU and why. */
async function expectBackend(page: Page, project: string) {
  if (project === 'webgpu') {
    await expect(page.getByTestId('try-backend')).toHaveText('WebGPU');
    await expect(page.getByTestId('try-adapter')).not.toHaveText('—');
  } else {
    await expect(page.getByTestId('try-backend')).toHaveText('CPU (wasm SIMD)');
    await expect(page.getByTestId('try-why')).toHaveText('WebGPU unavailable');
  }
}

test('a tabular demo runs in the page and gives the reference output', async ({ page }, info) => {
  test.skip(info.project.name === 'ssr', 'the demo runs in the browser');
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto('/tabular-works/diabetes-progression');
  await expect(page.getByTestId('try-panel')).toBeVisible();
  // The first load fetches no runner code and no demo file.
  expect(requests.filter(isRunner)).toEqual([]);
  expect(requests.filter((u) => u.endsWith('/demo.onnx'))).toEqual([]);

  await openDemo(page);
  // Long tasks on the main thread while the demo runs: none over 50 ms (it runs in the worker).
  // The page's own hydration, which waits for an idle moment once its wasm is in, is over
  // before the count starts.
  await page.waitForLoadState('networkidle');
  await page.evaluate(() => new Promise((done) => requestIdleCallback(done, { timeout: 5000 })));
  await page.evaluate(() => {
    (window as unknown as { longTasks: number[] }).longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) (window as unknown as { longTasks: number[] }).longTasks.push(entry.duration);
    }).observe({ type: 'longtask' });
  });
  expect(requests.some((u) => u.endsWith('/runner_web_bg.wasm'))).toBe(true);
  await expectBackend(page, info.project.name);

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
  test.skip(info.project.name === 'ssr', 'the demo runs in the browser');
  await page.goto('/sklearn-lab/digit-classifier');
  await openDemo(page);
  await expectBackend(page, info.project.name);
  for (const digit of ['0', '3', '7']) {
    await page.getByTestId('try-image').setInputFiles(path.join(fixtures, 'digits', `${digit}.png`));
    await expect(page.getByTestId('try-class').first()).toHaveAttribute('data-label', digit);
  }
  // Something that is not an image is refused by name.
  await page.getByTestId('try-image').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await expect(page.getByTestId('try-error')).toContainText('notes.txt is not a PNG, JPEG, WebP or GIF image');
});

test('the shape demo names colour images of shapes with the reference probabilities', async ({ page }, info) => {
  test.skip(info.project.name === 'ssr', 'the demo runs in the browser');
  await page.goto('/sklearn-lab/shape-classifier');
  await openDemo(page);
  await expectBackend(page, info.project.name);
  const { images } = expected['shape-classifier'] as unknown as {
    images: { file: string; label: string; output: number[] }[];
  };
  for (const { file, label, output } of images) {
    await page.getByTestId('try-image').setInputFiles(path.join(fixtures, file));
    const best = page.getByTestId('try-class').first();
    await expect(best).toHaveAttribute('data-label', label);
    expect(Math.abs(Number(await best.getAttribute('data-p')) - Math.max(...output))).toBeLessThan(1e-3);
  }
});

test('the tabular classification demo matches the reference probabilities', async ({ page }, info) => {
  test.skip(info.project.name === 'ssr', 'the demo runs in the browser');
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
  test.skip(info.project.name === 'ssr', 'the demo runs in the browser');
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

test('the text-embedding demo ranks a paraphrase above an unrelated sentence', async ({ page }, info) => {
  test.skip(info.project.name === 'ssr', 'the demo runs in the browser');
  test.setTimeout(180_000);
  await page.goto('/sentence-transformers/all-minilm-l6-v2');
  await openDemo(page);
  await expectBackend(page, info.project.name);
  // One sentence is not a comparison.
  await page.getByTestId('try-text').fill('Only one sentence.');
  await page.getByTestId('try-run').click();
  await expect(page.getByTestId('try-error')).toContainText('at least two sentences');
  await page.getByTestId('try-text').fill(
    ['A man is playing a guitar.', 'Someone plays the guitar.', 'The stock market fell sharply today.'].join('\n'),
  );
  await page.getByTestId('try-run').click();
  await expect(page.getByTestId('try-matrix')).toBeVisible({ timeout: 120_000 });
  const sim = async (a: number, b: number) => Number(await page.getByTestId(`try-sim-${a}-${b}`).getAttribute('data-sim'));
  expect(await sim(0, 0)).toBeCloseTo(1, 3);
  expect(await sim(0, 1)).toBeGreaterThan((await sim(0, 2)) + 0.3);
  expect(await sim(0, 1)).toBeCloseTo(await sim(1, 0), 5);
  // The nearest pair is the paraphrase.
  await expect(page.getByTestId('try-pairs').locator('li').first()).toHaveAttribute('data-pair', '0-1');
});

test('a model too large for the adapter falls back to the CPU and says why', async ({ page }, info) => {
  test.skip(info.project.name !== 'webgpu', 'needs a WebGPU adapter');
  test.setTimeout(180_000);
  // A smaller GPU, emulated: the worker sees an adapter whose buffers hold at most 32 MiB, less
  // than the 47 MB word-embedding table of MiniLM.
  await page.route('**/try-worker.js', async (route) => {
    const original = await (await route.fetch()).text();
    const smaller = `{
      const limits = Object.getOwnPropertyDescriptor(GPUAdapter.prototype, 'limits').get;
      Object.defineProperty(GPUAdapter.prototype, 'limits', { get() {
        const real = limits.call(this);
        const copy = {};
        for (const key in real) copy[key] = real[key];
        copy.maxBufferSize = copy.maxStorageBufferBindingSize = 32 * 1024 * 1024;
        return copy;
      } });
    }\n`;
    await route.fulfill({ body: smaller + original, contentType: 'text/javascript' });
  });
  await page.goto('/sentence-transformers/all-minilm-l6-v2');
  await openDemo(page);
  await expect(page.getByTestId('try-backend')).toHaveText('CPU (wasm SIMD)');
  await expect(page.getByTestId('try-why')).toHaveText('the model needs 47 MB buffers; this adapter allows 34 MB');
  // Asked for WebGPU outright, the page refuses with the same reason instead of running.
  await page.getByTestId('try-backend-choice').selectOption('webgpu');
  await expect(page.getByTestId('try-error')).toContainText('the model needs 47 MB buffers');
});

test('every seeded model page fits a phone with its demo open', async ({ page }, info) => {
  test.skip(info.project.name !== 'hydrated', 'the layout is the same whichever backend runs');
  // Six demos at two widths; MiniLM's 90 MB come from the cache after the first.
  test.setTimeout(240_000);
  for (const width of [360, 390]) {
    await page.setViewportSize({ width, height: 800 });
    for (const model of ['sklearn-lab/digit-classifier', 'sklearn-lab/shape-classifier', 'sklearn-lab/iris-species',
      'tabular-works/diabetes-progression', 'tabular-works/sentiment-mini',
      'sentence-transformers/all-minilm-l6-v2']) {
      await page.goto(`/${model}`);
      await openDemo(page);
      if (model.endsWith('minilm-l6-v2')) {
        // The similarity matrix of the example sentences, the widest thing a demo shows.
        await page.getByTestId('try-run').click();
        await expect(page.getByTestId('try-matrix')).toBeVisible({ timeout: 60_000 });
      }
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(scroll, `${model} at ${width} px`).toBeLessThanOrEqual(width);
    }
  }
});

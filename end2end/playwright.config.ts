import { defineConfig } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The server under test: a freshly built `bazaar` on its own port with an empty data directory,
// so it migrates and seeds the demo catalog at start-up exactly as a new install does.
const root = path.resolve(__dirname, '..');
const port = Number(process.env.BAZAAR_E2E_PORT ?? 3917);
const bin = process.env.BAZAAR_BIN ?? path.join(root, 'target/debug/bazaar');
const siteRoot = process.env.BAZAAR_SITE_ROOT ?? path.join(root, 'target/site');
// Every worker loads this file again; they inherit the first process's directory, so specs that
// run an operator's command (creating an admin, say) act on the data the server uses.
const dataDir =
  process.env.BAZAAR_E2E_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'bazaar-e2e-'));
process.env.BAZAAR_E2E_DATA_DIR = dataDir;
process.env.BAZAAR_E2E_BIN = bin;

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: { executablePath: '/usr/bin/chromium', args: chromiumArgs },
  },
  projects: [
    { name: 'ssr', use: { javaScriptEnabled: false } },
    // Headless Chromium offers no WebGPU adapter here: the demos run on the CPU backend.
    { name: 'hydrated', use: { javaScriptEnabled: true } },
    // The demos again with WebGPU, on SwiftShader (Chromium's CPU implementation of Vulkan).
    {
      name: 'webgpu',
      testMatch: /try\.spec\.ts/,
      use: {
        javaScriptEnabled: true,
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: [...chromiumArgs, '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan'],
        },
      },
    },
  ],
  webServer: {
    command:
      `"${bin}" serve --addr 127.0.0.1:${port} --data-dir "${dataDir}" ` +
      `--database-url "sqlite://${dataDir}/bazaar.db?mode=rwc" --site-root "${siteRoot}"`,
    url: `http://127.0.0.1:${port}/readyz`,
    // Every spec signs up its own accounts from this one address.
    env: { ...(process.env as Record<string, string>), BAZAAR_RATE_LIMITS__SIGN_UP_PER_IP: '1000' },
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});

// Serves the benchmark page, the runner's browser bundle, onnxruntime-web and the models on
// 127.0.0.1, runs the page in headless Chromium (WebGPU on SwiftShader) through Playwright, and
// writes the results (results.json, results.md, page.png, console.log) into --out.
//
//   node run.mjs --out DIR [--runs 10] [--warmup 3] [--budget 60] [--min-case 3] [--timeout 1500]
//                [--models digit,squeezenet,minilm] [--backends cpu,webgpu]
//                [--pkg DIR] [--gen DIR] [--minilm DIR] [--digit FILE] [--chromium PATH]
//   node run.mjs --serve [--port 8377]      only serve, for a person's own browser
//
// --pkg: the runner bundle (default: $CARGO_TARGET_DIR/site/pkg/<current>); --gen: what
// prepare_models.py wrote (squeezenet.onnx, minilm-ids.json; default
// $CARGO_TARGET_DIR/web-bench/models); --minilm: all-MiniLM-L6-v2's model.onnx + tokenizer.json.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, 'target');

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    if (key === 'serve') opts.serve = true;
    else opts[key] = argv[++i];
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const runs = Number(opts.runs ?? 10);
const warmup = Number(opts.warmup ?? 3);
const budgetS = Number(opts.budget ?? 60);
const minCaseS = Number(opts['min-case'] ?? 3);
const timeoutS = Number(opts.timeout ?? 1500);
const backends = (opts.backends ?? 'cpu,webgpu').split(',');
const modelIds = (opts.models ?? 'digit,squeezenet,minilm').split(',');
const chromiumPath = opts.chromium ?? '/usr/bin/chromium';

function runnerPkg() {
  if (opts.pkg) return path.resolve(opts.pkg);
  const pkgRoot = path.join(targetDir, 'site', 'pkg');
  const current = path.join(pkgRoot, 'current');
  if (!fs.existsSync(current)) {
    throw new Error(`${current} is missing: build the site first (scripts/build-site.sh)`);
  }
  return path.join(pkgRoot, fs.readFileSync(current, 'utf8').trim());
}

const pkg = runnerPkg();
const ortDist = path.join(here, 'node_modules', 'onnxruntime-web', 'dist');
const gen = path.resolve(opts.gen ?? path.join(targetDir, 'web-bench', 'models'));
const minilmDir = path.resolve(opts.minilm ?? path.join(targetDir, 'runner-models', 'all-MiniLM-L6-v2'));
const digit = path.resolve(opts.digit ?? path.join(root, 'seed', 'digit-classifier', 'model.onnx'));

for (const [what, file] of [
  ['runner bundle', path.join(pkg, 'runner_web_bg.wasm')],
  ['runner bundle', path.join(pkg, 'runner_web.js')],
  ['onnxruntime-web (npm ci in bench/web)', path.join(ortDist, 'ort.wasm.min.mjs')],
  ['digit model', digit],
  ['SqueezeNet (prepare_models.py)', path.join(gen, 'squeezenet.onnx')],
  ['MiniLM ids (prepare_models.py)', path.join(gen, 'minilm-ids.json')],
  ['MiniLM', path.join(minilmDir, 'model.onnx')],
  ['MiniLM tokenizer', path.join(minilmDir, 'tokenizer.json')],
]) {
  if (!fs.existsSync(file)) throw new Error(`${what}: ${file} is missing`);
}

const ortBuilds = { cpu: 'ort.wasm.min.mjs', webgpu: 'ort.webgpu.min.mjs' };
const MODELS = [
  { id: 'digit', label: 'Digit MLP', detail: '1×64 pixels', url: 'models/digit.onnx',
    inputs: [{ name: 'pixels', dtype: 'float32', shape: [1, 64], fill: 'digits' }] },
  { id: 'squeezenet', label: 'SqueezeNet 1.1', detail: '1×3×64×64, random weights', url: 'models/squeezenet.onnx',
    inputs: [{ name: 'image', dtype: 'float32', shape: [1, 3, 64, 64], fill: 'uniform' }] },
  { id: 'minilm', label: 'all-MiniLM-L6-v2', detail: '3 short sentences', url: 'models/minilm.onnx', text: true,
    tokenizer: 'models/tokenizer.json', ids: 'models/minilm-ids.json' },
];

// What each engine loads for a backend (the served paths are checked against these after the run).
const BUNDLES = [
  { engine: 'runner-web (CPU + WebGPU)', dir: pkg, prefix: '/runner/', files: ['runner_web.js', 'runner_web_bg.wasm'] },
  { engine: 'onnxruntime-web wasm EP', dir: ortDist, prefix: '/ort/',
    files: ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'] },
  { engine: 'onnxruntime-web WebGPU EP', dir: ortDist, prefix: '/ort/',
    files: ['ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'] },
];

/** Raw and brotli (-q 11, the site build's setting) sizes, cached by content (q 11 is slow). */
function bundleSizes() {
  const cacheFile = path.join(gen, 'sizes-cache.json');
  let cache = {};
  try { cache = JSON.parse(fs.readFileSync(cacheFile, 'utf8')); } catch { /* none yet */ }
  const fileSize = (file) => {
    const st = fs.statSync(file);
    const key = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    if (!cache[key]) {
      // The site build leaves a .br beside its files; the others go through the brotli CLI.
      let brotli;
      if (fs.existsSync(`${file}.br`) && fs.statSync(`${file}.br`).mtimeMs >= st.mtimeMs) {
        brotli = fs.statSync(`${file}.br`).size;
      } else {
        const out = spawnSync('brotli', ['-q', '11', '-c', file], { maxBuffer: 1 << 30 });
        if (out.status !== 0) throw new Error(`brotli ${file}: ${out.stderr}`);
        brotli = out.stdout.length;
      }
      cache[key] = { raw: st.size, brotli };
    }
    return cache[key];
  };
  const sizes = BUNDLES.map((b) => {
    const files = b.files.map((f) => ({ file: f, ...fileSize(path.join(b.dir, f)) }));
    return {
      engine: b.engine, files: b.files, perFile: files,
      raw: files.reduce((s, f) => s + f.raw, 0), brotli: files.reduce((s, f) => s + f.brotli, 0),
    };
  });
  fs.mkdirSync(gen, { recursive: true });
  fs.writeFileSync(cacheFile, JSON.stringify(cache, null, 1));
  return sizes;
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
};

function makeServer(config) {
  const routes = {
    '/': path.join(here, 'index.html'),
    '/index.html': path.join(here, 'index.html'),
    '/bench.js': path.join(here, 'bench.js'),
    '/bench.css': path.join(here, 'bench.css'),
    '/models/digit.onnx': digit,
    '/models/squeezenet.onnx': path.join(gen, 'squeezenet.onnx'),
    '/models/minilm-ids.json': path.join(gen, 'minilm-ids.json'),
    '/models/minilm.onnx': path.join(minilmDir, 'model.onnx'),
    '/models/tokenizer.json': path.join(minilmDir, 'tokenizer.json'),
  };
  const dirs = [['/runner/', pkg], ['/ort/', ortDist]];
  const served = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const headers = {
      // Cross-origin isolation: finer performance.now() (every resource is same-origin).
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cache-Control': 'no-store',
    };
    if (url.pathname === '/config.json') {
      res.writeHead(200, { ...headers, 'Content-Type': TYPES['.json'] });
      res.end(JSON.stringify(config));
      return;
    }
    let file = routes[url.pathname];
    for (const [prefix, dir] of dirs) {
      if (!file && url.pathname.startsWith(prefix)) {
        const name = decodeURIComponent(url.pathname.slice(prefix.length));
        if (/^[\w.-]+$/.test(name)) file = path.join(dir, name);
      }
    }
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, headers);
      res.end('not found');
      return;
    }
    served.add(url.pathname);
    res.writeHead(200, {
      ...headers,
      'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
      'Content-Length': fs.statSync(file).size,
    });
    fs.createReadStream(file).pipe(res);
  });
  return { server, served };
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}

const fmt = (ms) => (ms == null ? '—' : ms < 1 ? ms.toFixed(4) : ms < 100 ? ms.toFixed(2) : ms.toFixed(0));
const fmtBytes = (n) => `${(n / 1e6).toFixed(2)} MB`;
// An error's first line (WebGPU validation errors run to pages; results.json keeps them whole).
const short = (e) => String(e).split('\n')[0].slice(0, 200);

function markdown(res) {
  const lines = [
    '| model | backend | runner median ms | ort median ms | runner/ort | best-of ratio | max abs diff | samples × iters |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of res.rows) {
    if (r.ratio == null) {
      lines.push(`| ${r.model} | ${r.backend} | failed: ${short(r.error)} | | | | | |`);
      continue;
    }
    // The largest absolute difference, and relative to ort's largest |output|.
    const diff = r.diff
      ? `${r.diff.maxAbs.toExponential(1)} (rel ${(r.diff.maxAbs / (r.diff.scale || 1)).toExponential(1)})`
      : '—';
    const best = r.runner.minMs && r.ort.minMs ? (r.runner.minMs / r.ort.minMs).toFixed(2) : '—';
    lines.push(`| ${r.model} | ${r.backend} | ${fmt(r.runner.medianMs)} | ${fmt(r.ort.medianMs)} | `
      + `${r.ratio.toFixed(2)} | ${best} | ${diff} | ${r.samples} × ${r.iters}${r.error ? ` (then failed: ${short(r.error)})` : ''} |`);
  }
  lines.push('', '| bundle | files | raw | brotli -q 11 |', '| --- | --- | ---: | ---: |');
  for (const s of res.config.sizes) {
    lines.push(`| ${s.engine} | ${s.files.join(' + ')} | ${fmtBytes(s.raw)} | ${fmtBytes(s.brotli)} |`);
  }
  return lines.join('\n');
}

async function main() {
  const config = {
    runner: '/runner/runner_web.js', runnerDir: pkg, ortBase: '/ort/', ortBuilds,
    runs, warmup, caseBudgetMs: budgetS * 1000, minCaseMs: minCaseS * 1000, minSampleMs: 10, maxIters: 200,
    runTimeoutMs: 120000, backends, models: MODELS.filter((m) => modelIds.includes(m.id)),
    sizes: bundleSizes(),
  };
  const { server, served } = makeServer(config);
  const port = await listen(server, Number(opts.port ?? (opts.serve ? 8377 : 0)));
  const url = `http://127.0.0.1:${port}/`;
  if (opts.serve) {
    console.log(`serving the benchmark at ${url} (Ctrl-C stops)`);
    return;
  }
  if (!opts.out) throw new Error('--out DIR is required');
  const out = path.resolve(opts.out);
  fs.mkdirSync(out, { recursive: true });

  const { chromium } = await import('playwright');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 60_000,
    args: ['--headless', '--no-sandbox', '--disable-dev-shm-usage', '--enable-unsafe-webgpu',
      '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan'],
  });
  const consoleLog = fs.createWriteStream(path.join(out, 'console.log'));
  let res;
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on('console', (m) => consoleLog.write(`[${m.type()}] ${m.text()}\n`));
    page.on('pageerror', (e) => consoleLog.write(`[pageerror] ${e.message}\n`));
    const started = Date.now();
    await page.goto(url, { timeout: 60_000 });
    // Progress on stderr while the page works, and a hard bound on the whole run.
    let last = '';
    const ticker = setInterval(async () => {
      try {
        const s = await page.locator('#status').textContent({ timeout: 5000 });
        if (s !== last) process.stderr.write(`[${Math.round((Date.now() - started) / 1000)} s] ${s}\n`);
        last = s;
      } catch { /* page busy */ }
    }, 5000);
    try {
      await page.waitForFunction(
        () => ['done', 'error'].includes(window.benchResults?.status),
        null, { timeout: timeoutS * 1000, polling: 1000 },
      );
    } catch (err) {
      process.stderr.write(`the page did not finish within ${timeoutS} s; keeping what it has\n`);
    } finally {
      clearInterval(ticker);
    }
    res = await page.evaluate(() => JSON.parse(JSON.stringify(window.benchResults)));
    res.served = [...served].sort();
    const expected = BUNDLES.filter((b, i) => i === 0 || backends.includes(['cpu', 'webgpu'][i - 1]))
      .flatMap((b) => b.files.map((f) => b.prefix + f));
    const unexpected = res.served.filter((p) => /^\/(ort|runner)\//.test(p) && !expected.includes(p));
    if (unexpected.length) res.errors.push(`engine files served beyond the sized ones: ${unexpected.join(', ')}`);
    await page.screenshot({ path: path.join(out, 'page.png'), fullPage: true });
  } finally {
    await browser.close();
    consoleLog.end();
    server.close();
  }
  fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(res, null, 1));
  const md = markdown(res);
  fs.writeFileSync(path.join(out, 'results.md'), `${md}\n`);
  console.log(md);
  if (res.errors.length) console.log(`\nerrors:\n${res.errors.map((e) => `- ${short(e)}`).join('\n')}`);
  console.log(`\nresults: ${path.join(out, 'results.json')}, screenshot: ${path.join(out, 'page.png')}`);
  if (res.status !== 'done' || res.rows.some((r) => r.ratio == null)) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});

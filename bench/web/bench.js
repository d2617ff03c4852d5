// The benchmark page: times the runner's browser bundle (runner-web) and onnxruntime-web on the
// same models, inputs and backend, one case (model × backend) at a time, and draws the medians.
//
// The page reads `config.json` (written by run.mjs: where the bundles and models are, how many
// runs); query parameters override it: ?runs=10&warmup=3&backends=cpu,webgpu&models=digit,minilm
// &budget=60 (seconds of timed runs per case at most) &min-sample-ms=10.
// Results land on `window.benchResults` (status: loading | running | done | error), which the
// driver polls.

const results = {
  status: 'loading',
  startedAt: new Date().toISOString(),
  config: null,
  env: {},
  rows: [],
  errors: [],
};
window.benchResults = results;

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

function setStatus(text, kind = '') {
  const el = $('status');
  el.textContent = text;
  el.className = `status ${kind}`;
}

function fail(where, err) {
  const message = `${where}: ${err && err.message ? err.message : String(err)}`;
  results.errors.push(message);
  const li = document.createElement('li');
  li.textContent = message.split('\n')[0].slice(0, 300);
  li.title = message;
  $('errors').append(li);
  console.error(message);
}

/** Rejects when `promise` takes longer than `ms`, so a stuck engine cannot hang the page. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A small deterministic PRNG (mulberry32), so every load feeds the same inputs. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fillInput(spec, seed) {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const rand = prng(seed);
  for (let i = 0; i < n; i++) {
    // Pixel intensities 0..16 (the digit model's 8x8 images) or normalised image values.
    data[i] = spec.fill === 'digits' ? Math.floor(rand() * 17) : rand() * 2 - 1;
  }
  return data;
}

function fmtMs(ms) {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 0.1) return `${(ms * 1000).toFixed(1)} µs`;
  if (ms < 10) return `${ms.toFixed(3)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

function fmtBytes(n) {
  if (n == null) return '—';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  return `${(n / 1e3).toFixed(1)} kB`;
}

function fmtDiff(x) {
  if (x == null) return '—';
  if (!Number.isFinite(x)) return String(x);
  return x === 0 ? '0' : x.toExponential(1);
}

async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The model's inputs as `{ name, dtype, shape, data: Float32Array }`. */
async function modelInputs(model, runner) {
  if (!model.text) {
    return model.inputs.map((spec, k) => ({ ...spec, data: fillInput(spec, 1234 + k) }));
  }
  // Text: the runner's own tokenizer when the bundle has one; the ids the prepare step wrote
  // with the `tokenizers` package otherwise (and as the check of the runner's).
  const ref = await (await fetch(model.ids)).json();
  let shape = ref.shape;
  let ids = Float32Array.from(ref.input_ids.flat());
  let mask = Float32Array.from(ref.attention_mask.flat());
  model.sentences = ref.sentences;
  if (typeof runner.Tokenizer === 'function') {
    const tok = new runner.Tokenizer(await (await fetch(model.tokenizer)).text());
    const enc = tok.encode(ref.sentences);
    const same = enc.shape.join() === shape.join()
      && enc.input_ids.every((v, i) => v === ids[i])
      && enc.attention_mask.every((v, i) => v === mask[i]);
    model.tokenizer_source = same ? 'runner-web Tokenizer (matches tokenizers)' : 'runner-web Tokenizer';
    if (!same) {
      fail(model.id, new Error(`runner-web's Tokenizer differs from tokenizers' ids (${enc.shape} vs ${shape}); using the runner's`));
    }
    shape = Array.from(enc.shape);
    ids = enc.input_ids;
    mask = enc.attention_mask;
    tok.free();
  } else {
    model.tokenizer_source = 'fixed ids (tokenizers); runner-web has no Tokenizer';
  }
  return [
    { name: 'input_ids', dtype: 'int64', shape, data: ids },
    { name: 'attention_mask', dtype: 'int64', shape, data: mask },
  ];
}

function ortFeeds(ort, inputs) {
  const feeds = {};
  for (const x of inputs) {
    const data = x.dtype === 'int64' ? BigInt64Array.from(x.data, (v) => BigInt(v)) : x.data;
    feeds[x.name] = new ort.Tensor(x.dtype, data, x.shape);
  }
  return feeds;
}

/** Both engines' outputs compared: the largest absolute difference, and ort's largest value. */
function compare(runnerOut, ortOut) {
  let maxAbs = 0;
  let scale = 0;
  for (const r of runnerOut) {
    const o = ortOut[r.name];
    if (!o || o.data.length !== r.data.length) {
      return { maxAbs: Infinity, scale: 0, note: `output ${r.name} missing or of another size` };
    }
    for (let i = 0; i < r.data.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(r.data[i] - Number(o.data[i])));
      scale = Math.max(scale, Math.abs(Number(o.data[i])));
    }
  }
  return { maxAbs, scale };
}

async function runCase(cfg, engines, model, backend, bytes, inputs) {
  const row = {
    model: model.id, label: model.label, detail: model.detail || '', backend, shapes: inputs.map((x) => x.shape),
    runner: {}, ort: {}, error: null,
  };
  results.rows.push(row);
  render();
  const ort = engines.ort[backend];
  const t = cfg.runTimeoutMs;
  let rs = null;
  let os = null;
  try {
    let t0 = performance.now();
    rs = await withTimeout(engines.runner.Session.open(bytes, backend), t, 'runner open');
    row.runner.openMs = performance.now() - t0;
    row.runner.backend = rs.backend;
    row.runner.adapter = rs.adapter;
    if (rs.backend !== backend) throw new Error(`runner opened ${rs.backend}: ${rs.reason}`);

    t0 = performance.now();
    os = await withTimeout(ort.InferenceSession.create(bytes.slice(), {
      executionProviders: [backend === 'webgpu' ? 'webgpu' : 'wasm'],
      graphOptimizationLevel: 'all',
    }), t, 'ort create');
    row.ort.openMs = performance.now() - t0;
    row.ort.backend = backend === 'webgpu' ? 'webgpu EP' : 'wasm EP';

    // The runner takes its inputs in the graph's order.
    const order = Array.from(rs.inputs(), (i) => i.name);
    const byName = Object.fromEntries(inputs.map((x) => [x.name, x]));
    const rData = order.map((n) => byName[n].data);
    const rShapes = order.map((n) => Uint32Array.from(byName[n].shape));
    const feeds = ortFeeds(ort, inputs);
    const runRunner = () => rs.run(rData, rShapes);
    const runOrt = () => os.run(feeds);

    // Warm-up, which also yields the outputs both engines must agree on.
    let rOut;
    let oOut;
    const rWarm = [];
    const oWarm = [];
    for (let i = 0; i < Math.max(1, cfg.warmup); i++) {
      t0 = performance.now();
      rOut = await withTimeout(runRunner(), t, 'runner run');
      rWarm.push(performance.now() - t0);
      t0 = performance.now();
      oOut = await withTimeout(runOrt(), t, 'ort run');
      oWarm.push(performance.now() - t0);
    }
    row.diff = compare(rOut, oOut);
    row.outputs = rOut.map((o) => ({ name: o.name, shape: Array.from(o.shape) }));

    // Fast models run several times per sample so the clock's resolution does not matter;
    // both engines get the same count.
    const fastest = Math.max(Math.min(median(rWarm), median(oWarm)), 1e-3);
    const iters = Math.min(cfg.maxIters, Math.max(1, Math.ceil(cfg.minSampleMs / fastest)));
    row.iters = iters;
    const samples = { runner: [], ort: [] };
    const timeOne = async (which) => {
      const run = which === 'runner' ? runRunner : runOrt;
      const start = performance.now();
      for (let k = 0; k < iters; k++) await withTimeout(run(), t, `${which} run`);
      samples[which].push((performance.now() - start) / iters);
    };
    // Interleaved, first one engine then the other, so background load hits both alike.
    const loopStart = performance.now();
    // At least `runs` samples (fewer only past the budget); cheap cases go on sampling, up to
    // 5 × runs, until they have spent `minCaseMs`: a loaded machine's hiccups then weigh less.
    for (let i = 0; ; i++) {
      const spent = performance.now() - loopStart;
      if (i >= cfg.runs && (spent >= cfg.minCaseMs || i >= 5 * cfg.runs)) break;
      if (i >= 3 && spent > cfg.caseBudgetMs) {
        row.cappedByBudget = true;
        break;
      }
      for (const which of i % 2 ? ['ort', 'runner'] : ['runner', 'ort']) await timeOne(which);
      row.samples = samples.runner.length;
      row.runner.medianMs = median(samples.runner);
      row.ort.medianMs = median(samples.ort);
      row.ratio = row.runner.medianMs / row.ort.medianMs;
      render();
    }
    row.runner.samplesMs = samples.runner;
    row.ort.samplesMs = samples.ort;
    row.runner.minMs = Math.min(...samples.runner);
    row.ort.minMs = Math.min(...samples.ort);
  } catch (err) {
    row.error = err && err.message ? err.message : String(err);
    fail(`${model.id}/${backend}`, err);
  } finally {
    try { if (os) await os.release(); } catch (err) { fail(`${model.id}/${backend} ort release`, err); }
    try { if (rs) rs.free(); } catch (err) { fail(`${model.id}/${backend} runner free`, err); }
    render();
  }
}

function render() {
  renderTable();
  renderChart();
}

function renderTable() {
  const body = $('results').tBodies[0];
  body.replaceChildren();
  for (const r of results.rows) {
    const tr = document.createElement('tr');
    const cell = (text, cls = '') => {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
      return td;
    };
    const name = cell(r.label);
    if (r.detail) name.append(Object.assign(document.createElement('small'), { textContent: r.detail }));
    cell(r.backend === 'webgpu' ? 'WebGPU' : 'CPU (wasm)');
    if (r.error && r.ratio == null) {
      const td = cell(`failed: ${r.error.split('\n')[0].slice(0, 160)}`, 'failed');
      td.colSpan = 6;
      td.title = r.error;
    } else {
      cell(fmtMs(r.runner.medianMs), 'num');
      cell(fmtMs(r.ort.medianMs), 'num');
      const ratio = r.ratio == null ? '…' : `${r.ratio.toFixed(2)}×`;
      cell(ratio, `num ${r.ratio == null ? '' : r.ratio <= 1 ? 'faster' : 'slower'}`);
      cell(r.diff ? fmtDiff(r.diff.maxAbs) : '—', 'num').title =
        r.diff ? `ort's largest |output|: ${r.diff.scale.toPrecision(3)}` : '';
      cell(r.samples ? `${r.samples} × ${r.iters}` : '…', 'num');
      cell(`${fmtMs(r.runner.openMs)} / ${fmtMs(r.ort.openMs)}`, 'num');
    }
    body.append(tr);
  }
}

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

/** Horizontal bars, two per case (runner, ort), each case on its own scale (the models' times
 * differ by orders of magnitude), with the ratio at the right. */
function renderChart() {
  const rows = results.rows.filter((r) => r.ratio != null);
  const width = 960;
  const left = 300;
  const right = 110;
  const rowH = 54;
  const top = 34;
  const height = top + Math.max(rows.length, 1) * rowH + 10;
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': 'Median latency per model and backend, runner against onnxruntime-web' });
  // Legend.
  svg.append(el('rect', { x: left, y: 6, width: 14, height: 14, class: 'runner' }));
  svg.append(el('text', { x: left + 20, y: 18 }, 'runner-web'));
  svg.append(el('rect', { x: left + 120, y: 6, width: 14, height: 14, class: 'ort' }));
  svg.append(el('text', { x: left + 140, y: 18 }, 'onnxruntime-web'));
  svg.append(el('text', { x: width - 8, y: 18, 'text-anchor': 'end', class: 'muted' },
    'each row on its own scale · runner / ort'));
  if (!rows.length) {
    svg.append(el('text', { x: left, y: top + 24, class: 'muted' }, 'No results yet.'));
  }
  const barMax = width - left - right - 90;
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    if (i % 2 === 0) {
      svg.append(el('rect', { x: 0, y: y - 2, width, height: rowH - 4, fill: '#f7f8fa' }));
    }
    svg.append(el('text', { x: 8, y: y + 20 }, r.label));
    svg.append(el('text', { x: 8, y: y + 38, class: 'muted' },
      `${r.backend === 'webgpu' ? 'WebGPU' : 'CPU (wasm)'} · ${r.detail}`));
    const max = Math.max(r.runner.medianMs, r.ort.medianMs);
    [['runner', r.runner.medianMs, 6], ['ort', r.ort.medianMs, 26]].forEach(([cls, ms, dy]) => {
      const w = Math.max(2, (ms / max) * barMax);
      svg.append(el('rect', { x: left, y: y + dy, width: w, height: 16, rx: 2, class: cls }));
      svg.append(el('text', { x: left + w + 6, y: y + dy + 13 }, fmtMs(ms)));
    });
    svg.append(el('text', { x: width - 8, y: y + 29, 'text-anchor': 'end',
      class: r.ratio <= 1 ? 'faster' : 'slower' }, `${r.ratio.toFixed(2)}×`));
  });
  $('chart').replaceChildren(svg);
}

function renderSizes(sizes) {
  const body = $('sizes').tBodies[0];
  body.replaceChildren();
  for (const s of sizes || []) {
    const tr = document.createElement('tr');
    for (const [text, cls] of [[s.engine, ''], [s.files, ''],
      [fmtBytes(s.raw), 'num'], [fmtBytes(s.brotli), 'num']]) {
      const td = document.createElement('td');
      // The files one a line, each with its own sizes.
      if (Array.isArray(text)) {
        td.append(...(s.perFile || text.map((file) => ({ file }))).map((f) => Object.assign(
          document.createElement('span'),
          { textContent: f.raw ? `${f.file} (${fmtBytes(f.raw)}, brotli ${fmtBytes(f.brotli)})` : f.file },
        )));
      } else {
        td.textContent = text;
      }
      if (cls) td.className = cls;
      tr.append(td);
    }
    body.append(tr);
  }
}

function renderSetup() {
  const dl = $('setup');
  dl.replaceChildren();
  const c = results.config;
  const items = [
    ['Browser', navigator.userAgent],
    ['WebGPU adapter', results.env.adapter || 'none'],
    ['Cross-origin isolated', String(self.crossOriginIsolated)],
    ['onnxruntime-web', `${results.env.ortVersion || '?'} (wasm EP: ${c.ortBuilds.cpu}, WebGPU EP: ${c.ortBuilds.webgpu}; numThreads = 1)`],
    ['runner-web', c.runnerDir || c.runner],
    ['Runs', `${c.warmup} warm-up, then ${c.runs} timed samples per engine, interleaved (up to ${5 * c.runs} while a case has run less than ${c.minCaseMs / 1000} s; as few as 3 once it has run ${c.caseBudgetMs / 1000} s); fast models repeat within a sample (≥ ${c.minSampleMs} ms)`],
  ];
  for (const m of c.models) {
    if (m.sentences) items.push([`${m.label} input`, `${m.sentences.map((s) => `“${s}”`).join(', ')} — ${m.tokenizer_source}`]);
  }
  for (const [k, v] of items) {
    dl.append(Object.assign(document.createElement('dt'), { textContent: k }));
    dl.append(Object.assign(document.createElement('dd'), { textContent: v }));
  }
}

async function adapterName() {
  if (!navigator.gpu) return '';
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return '';
    const info = adapter.info || {};
    return [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ') || 'unnamed';
  } catch {
    return '';
  }
}

async function main() {
  const cfg = await (await fetch('config.json')).json();
  const q = new URLSearchParams(location.search);
  const num = (key, fallback) => (q.has(key) ? Number(q.get(key)) : fallback);
  cfg.runs = num('runs', cfg.runs ?? 10);
  cfg.warmup = num('warmup', cfg.warmup ?? 3);
  cfg.caseBudgetMs = num('budget', (cfg.caseBudgetMs ?? 60000) / 1000) * 1000;
  cfg.minSampleMs = num('min-sample-ms', cfg.minSampleMs ?? 10);
  cfg.maxIters = cfg.maxIters ?? 200;
  cfg.minCaseMs = num('min-case-ms', cfg.minCaseMs ?? 3000);
  cfg.runTimeoutMs = cfg.runTimeoutMs ?? 120000;
  cfg.backends = q.has('backends') ? q.get('backends').split(',') : cfg.backends ?? ['cpu', 'webgpu'];
  if (q.has('models')) {
    const keep = q.get('models').split(',');
    cfg.models = cfg.models.filter((m) => keep.includes(m.id));
  }
  results.config = cfg;
  renderSizes(cfg.sizes);

  setStatus('Loading the engines…');
  const runner = await import(cfg.runner);
  await runner.default();
  const engines = { runner, ort: {} };
  for (const backend of cfg.backends) {
    const ort = await import(cfg.ortBase + cfg.ortBuilds[backend]);
    ort.env.wasm.wasmPaths = cfg.ortBase;
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    engines.ort[backend] = ort;
    results.env.ortVersion = ort.env.versions?.web;
  }
  results.env.adapter = await adapterName();
  results.env.userAgent = navigator.userAgent;
  results.env.crossOriginIsolated = self.crossOriginIsolated;
  renderSetup();

  results.status = 'running';
  for (const model of cfg.models) {
    let bytes;
    let inputs;
    try {
      setStatus(`Loading ${model.label}…`);
      bytes = await fetchBytes(model.url);
      inputs = await modelInputs(model, runner);
      renderSetup();
    } catch (err) {
      fail(model.id, err);
      continue;
    }
    for (const backend of cfg.backends) {
      setStatus(`Running ${model.label} on ${backend}…`);
      await runCase(cfg, engines, model, backend, bytes, inputs);
    }
  }
  results.finishedAt = new Date().toISOString();
  results.status = 'done';
  const failed = results.rows.filter((r) => r.error).length;
  setStatus(failed ? `Done, ${failed} case(s) failed.` : 'Done.', failed ? 'error' : 'done');
}

main().catch((err) => {
  fail('page', err);
  results.status = 'error';
  setStatus(`Failed: ${err && err.message ? err.message : err}`, 'error');
});

// The model page's "Try it" worker: loads the runner (its own wasm bundle, never part of the
// page's), fetches the demo file with progress, keeps it in the Cache API under its SHA-256 so
// a second visit does not download it again, and runs the model off the main thread.
//
// Page → worker: {type: 'open', runner, demo, sha256, backend, tokenizer?},
//                {type: 'run', inputs, shapes}, {type: 'run-text', texts}, {type: 'switch', backend}
// Worker → page: {type: 'progress', loaded, total}, {type: 'ready', backend, adapter, reason,
//                loadMs, cached, inputs}, {type: 'result', outputs, ms}, {type: 'error', message}

const CACHE = 'bazaar-demo-files';
let runner = null;
let bytes = null;
let session = null;
let tokenizer = null;

const post = (message, transfer) => self.postMessage(message, transfer || []);

async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// The demo file, from the Cache API when an earlier visit stored it, else from the network
// with progress; either way checked against the SHA-256 the page was given.
async function demoBytes(url, sha256) {
  const key = new Request(`/demo-cache/${sha256}`);
  const cache = self.caches ? await caches.open(CACHE) : null;
  const hit = cache && (await cache.match(key));
  if (hit) {
    return { buffer: await hit.arrayBuffer(), cached: true };
  }
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) {
    throw new Error(`the demo file could not be downloaded (${response.status})`);
  }
  const total = Number(response.headers.get('content-length')) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    post({ type: 'progress', loaded, total });
  }
  const buffer = await new Blob(chunks).arrayBuffer();
  if ((await sha256Hex(buffer)) !== sha256) {
    throw new Error('the demo file does not match its SHA-256');
  }
  if (cache) {
    await cache.put(key, new Response(buffer.slice(0)));
  }
  return { buffer, cached: false };
}

// The browser's words for its WebGPU adapter (wgpu's are empty there): vendor, architecture,
// description, as far as the browser tells.
async function adapterName(fallback) {
  try {
    const info = (await navigator.gpu.requestAdapter())?.info;
    const words = [info?.vendor, info?.architecture, info?.description].filter(Boolean);
    if (words.length) return [...new Set(words)].join(' · ');
  } catch {
    // Not told: wgpu's name stands.
  }
  return fallback;
}

async function open(backend) {
  const started = performance.now();
  let choice = backend;
  let reason = '';
  // Without WebGPU in this browser the CPU runs the model, and the page says why.
  if (backend !== 'cpu' && !('gpu' in navigator)) {
    reason = self.isSecureContext ? 'WebGPU unavailable' : 'WebGPU needs HTTPS';
    if (backend === 'webgpu') throw new Error(reason);
    choice = 'cpu';
  }
  session?.free();
  session = null;
  session = await runner.Session.open(new Uint8Array(bytes), choice);
  return {
    backend: session.backend,
    adapter: session.backend === 'webgpu' ? await adapterName(session.adapter) : '',
    reason: reason || session.reason,
    loadMs: performance.now() - started,
    inputs: session.inputs(),
  };
}

// A text model's tokenizer (a Hugging Face tokenizer.json), when its card names one.
async function loadTokenizer(url) {
  if (!url) return null;
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`the tokenizer could not be downloaded (${response.status})`);
  return new runner.Tokenizer(await response.text());
}

// Token ids and masks for `texts`, one tensor per model input, matched by the inputs' names
// as BERT-family exports name them.
function encodeTexts(texts) {
  if (!tokenizer) throw new Error('the card names no tokenizer for this text model');
  texts.forEach((text, i) => {
    const count = tokenizer.countTokens(text);
    if (count > tokenizer.maxLength) {
      throw new Error(`Sentence ${i + 1} is ${count} tokens long; the model reads at most ${tokenizer.maxLength}. Shorten it.`);
    }
  });
  const encoded = tokenizer.encode(texts);
  const byName = {
    input_ids: encoded.input_ids,
    attention_mask: encoded.attention_mask,
    token_type_ids: new Float32Array(encoded.input_ids.length),
  };
  const inputs = session.inputs().map((input) => {
    const data = byName[input.name];
    if (!data) throw new Error(`the model's input ${input.name} is not one a tokenizer makes`);
    return data;
  });
  return { inputs, shapes: inputs.map(() => Uint32Array.from(encoded.shape)) };
}

async function handle(message) {
  switch (message.type) {
    case 'open': {
      const started = performance.now();
      const [module, demo] = await Promise.all([
        import(message.runner),
        demoBytes(message.demo, message.sha256),
      ]);
      await module.default();
      runner = module;
      bytes = demo.buffer;
      tokenizer = await loadTokenizer(message.tokenizer);
      const ready = await open(message.backend);
      ready.loadMs = performance.now() - started;
      post({ type: 'ready', cached: demo.cached, ...ready });
      break;
    }
    case 'switch':
      post({ type: 'ready', cached: true, ...(await open(message.backend)) });
      break;
    case 'run': {
      const started = performance.now();
      const outputs = await session.run(message.inputs, message.shapes);
      post({ type: 'result', outputs, ms: performance.now() - started });
      break;
    }
    case 'run-text': {
      const { inputs, shapes } = encodeTexts(message.texts);
      const started = performance.now();
      const outputs = await session.run(inputs, shapes);
      post({ type: 'result', outputs, ms: performance.now() - started });
      break;
    }
    default:
      throw new Error(`unknown message ${message.type}`);
  }
}

// One message at a time, in order: a run never overlaps a switch of backend.
let queue = Promise.resolve();
self.onmessage = (event) => {
  queue = queue.then(() => handle(event.data)).catch((err) => {
    post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  });
};

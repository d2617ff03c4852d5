// The model page's "Try it" panels. Opening one starts a worker (/try-worker.js) that loads the
// runner's wasm bundle and the demo file; this script only builds the widget the card's
// `demo:` task asks for, checks what is typed or drawn, and shows the answers. Event
// delegation, so panels rendered later by the router work too.

const fmtBytes = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);
const fmtMs = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// A DOM element: el('p', {class: 'x', 'data-testid': 'y'}, 'text', child…).
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

document.addEventListener('click', (event) => {
  const button = event.target.closest?.('[data-try-open]');
  if (!button || button.closest('[data-try-demo]').dataset.tryOpened) return;
  openPanel(button.closest('[data-try-demo]'), button);
});

function openPanel(panel, button) {
  panel.dataset.tryOpened = 'yes';
  button.hidden = true;
  const body = panel.querySelector('[data-try-body]');
  const bar = el('progress', { max: '1', value: '0', 'data-testid': 'try-progress' });
  const said = el('span', { class: 'muted', 'data-testid': 'try-progress-text' }, 'Loading the runner…');
  const status = el('dl', { class: 'try-status', 'data-testid': 'try-status' });
  const backend = el('select', { 'data-testid': 'try-backend-choice', 'aria-label': 'Backend' },
    el('option', { value: 'auto' }, 'WebGPU when it fits, else CPU'),
    el('option', { value: 'webgpu' }, 'WebGPU'),
    el('option', { value: 'cpu' }, 'CPU'));
  const error = el('p', { class: 'form-error', role: 'alert', 'data-testid': 'try-error', hidden: '' });
  const widget = el('div', { class: 'try-widget' });
  body.append(el('div', { class: 'try-loading' }, bar, ' ', said), status,
    el('label', { class: 'try-backend' }, 'Backend ', backend), error, widget);

  const task = panel.dataset.tryTask;
  const latencies = [];
  let labels = null;
  let built = false;
  const worker = new Worker('/try-worker.js', { type: 'module' });
  const showStatus = (ready) => {
    const rows = [
      ['Backend', ready.backend === 'webgpu' ? 'WebGPU' : 'CPU (wasm SIMD)'],
      ['Adapter', ready.adapter || '—'],
      ['Why', ready.reason || '—'],
      ['Loaded in', `${fmtMs(ready.loadMs)}${ready.cached ? ' (demo file from cache)' : ''}`],
      ['Median latency', latencies.length ? `${fmtMs(median(latencies))} over ${latencies.length} run${latencies.length > 1 ? 's' : ''}` : '—'],
    ];
    status.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-testid': `try-${k.toLowerCase().replace(/ /g, '-')}` }, v)]));
    status.lastReady = ready;
  };
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
  };
  const run = (inputs, shapes, show) => {
    error.hidden = true;
    worker.pending = show;
    worker.postMessage({ type: 'run', inputs, shapes });
  };
  // Text models with a tokenizer: the worker tokenises, so the page never loads it.
  run.texts = (texts, show) => {
    error.hidden = true;
    worker.pending = show;
    worker.postMessage({ type: 'run-text', texts });
  };

  worker.onmessage = async ({ data }) => {
    switch (data.type) {
      case 'progress': {
        const total = data.total || data.loaded;
        bar.value = total ? data.loaded / total : 0;
        said.textContent = `${fmtBytes(data.loaded)} of ${fmtBytes(total)} (${Math.round((100 * data.loaded) / total)}%)`;
        break;
      }
      case 'ready':
        bar.value = 1;
        said.textContent = 'Ready';
        showStatus(data);
        if (!built) {
          built = true;
          labels = await loadLines(panel.dataset.tryLabels);
          const vocab = await loadLines(panel.dataset.tryVocab);
          buildWidget(widget, task, data.inputs[0], panel.dataset.tryInput, vocab, run, () => labels, fail);
        }
        break;
      case 'result':
        latencies.push(data.ms);
        showStatus(status.lastReady);
        worker.pending?.(data.outputs);
        break;
      case 'error':
        said.textContent = 'Stopped';
        fail(data.message);
        break;
    }
  };
  worker.onerror = (e) => fail(`The demo could not start: ${e.message || 'the worker failed'}`);
  backend.onchange = () => {
    latencies.length = 0;
    worker.postMessage({ type: 'switch', backend: backend.value });
  };
  worker.postMessage({
    type: 'open',
    runner: document.querySelector('meta[name="bazaar-runner"]').content,
    demo: panel.dataset.tryDemo,
    sha256: panel.dataset.trySha256,
    tokenizer: panel.dataset.tryTokenizer,
    backend: 'auto',
  });
}

// A labels or vocabulary file: one entry per line.
async function loadLines(url) {
  if (!url) return null;
  try {
    const response = await fetch(url);
    if (!response.ok) return null;
    return (await response.text()).split('\n').map((l) => l.trim()).filter(Boolean);
  } catch {
    return null;
  }
}

// The element count of one example (the batch dimension, 1 or unknown, aside).
const features = (input) => input.shape.slice(1).reduce((a, d) => a * Math.max(d, 1), 1);

function buildWidget(root, task, input, preprocessing, vocab, run, labels, fail) {
  if (preprocessing) root.append(el('p', { class: 'muted try-hint' }, `Input: ${preprocessing}`));
  const output = el('div', { class: 'try-output', 'data-testid': 'try-output', 'aria-live': 'polite' });
  if (EMBEDDING_TASKS.includes(task)) {
    embeddingWidget(root, run, output, fail);
  } else if (task.startsWith('image')) {
    imageWidget(root, input, preprocessing, run, (outs) => showClasses(output, outs, labels()), fail);
  } else if (task.startsWith('text')) {
    textWidget(root, input, vocab, run, (outs) => showClasses(output, outs, labels()), fail);
  } else {
    tabularWidget(root, input, preprocessing, run, (outs) => (task.endsWith('regression')
      ? showValues(output, outs) : showClasses(output, outs, labels())), fail);
  }
  root.append(output);
}

// Sentences in, one vector each out: the similarity of every pair is what people compare.
const EMBEDDING_TASKS = ['text-embedding', 'sentence-similarity', 'feature-extraction'];
const MAX_SENTENCES = 8;
const MAX_SENTENCE_CHARS = 500;
const EXAMPLE_SENTENCES = [
  'A man is eating food.',
  'A man is eating a piece of bread.',
  'The girl is carrying a baby.',
  'A man is riding a horse.',
];

function embeddingWidget(root, run, output, fail) {
  const form = el('form', { class: 'try-text', 'data-testid': 'try-form', novalidate: '' });
  const text = el('textarea', { rows: String(EXAMPLE_SENTENCES.length + 1), 'data-testid': 'try-text', 'aria-label': 'Sentences, one per line' });
  text.value = EXAMPLE_SENTENCES.join('\n');
  form.append(el('label', { class: 'muted' }, `Two to ${MAX_SENTENCES} sentences, one per line.`), text,
    el('button', { type: 'submit', class: 'button', 'data-testid': 'try-run' }, 'Compare'));
  form.onsubmit = (event) => {
    event.preventDefault();
    const sentences = text.value.split('\n').map((l) => l.trim()).filter(Boolean);
    if (sentences.length < 2) return fail('Type at least two sentences, one per line, to compare them.');
    if (sentences.length > MAX_SENTENCES) return fail(`That is ${sentences.length} sentences; the demo compares up to ${MAX_SENTENCES}.`);
    const long = sentences.findIndex((s) => s.length > MAX_SENTENCE_CHARS);
    if (long >= 0) return fail(`Sentence ${long + 1} is ${sentences[long].length} characters; the demo takes up to ${MAX_SENTENCE_CHARS}.`);
    run.texts(sentences, (outputs) => showSimilarities(output, sentences, outputs));
  };
  root.append(form);
}

// Cosine similarity of every pair as a matrix on a colour scale, and the nearest pairs.
function showSimilarities(output, sentences, outputs) {
  const out = outputs[0];
  const n = sentences.length;
  const dim = out.data.length / n;
  const vectors = sentences.map((_, i) => {
    const v = out.data.subarray(i * dim, (i + 1) * dim);
    const norm = Math.hypot(...v) || 1;
    return Array.from(v, (x) => x / norm);
  });
  const cosine = (a, b) => vectors[a].reduce((sum, x, k) => sum + x * vectors[b][k], 0);
  const sim = sentences.map((_, a) => sentences.map((_, b) => cosine(a, b)));
  const head = el('tr', {}, el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, 'Sentence')),
    ...sentences.map((_, b) => el('th', { scope: 'col', title: sentences[b] }, `${b + 1}`)));
  const rows = sentences.map((sentence, a) => el('tr', {},
    el('th', { scope: 'row', class: 'try-sentence' }, `${a + 1}. ${sentence}`),
    ...sentences.map((_, b) => el('td', { 'data-testid': `try-sim-${a}-${b}`, 'data-sim': sim[a][b].toFixed(6), title: `${sentences[a]} ↔ ${sentences[b]}` },
      sim[a][b].toFixed(2)))));
  const pairs = [];
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) pairs.push([sim[a][b], a, b]);
  pairs.sort((x, y) => y[0] - x[0]);
  output.replaceChildren(
    el('div', { class: 'table-scroll' }, el('table', { class: 'try-matrix', 'data-testid': 'try-matrix' },
      el('caption', {}, 'Cosine similarity of each pair of sentences'), el('thead', {}, head), el('tbody', {}, ...rows))),
    el('p', { class: 'try-scale muted', 'aria-hidden': 'true' }, el('span', {}, '0'), el('span', { class: 'try-scale-bar' }), el('span', {}, '1')),
    el('h3', { class: 'try-pairs-heading' }, 'Nearest pairs'),
    el('ol', { class: 'try-pairs', 'data-testid': 'try-pairs' }, ...pairs.slice(0, 3).map(([s, a, b]) =>
      el('li', { 'data-pair': `${a}-${b}` }, `${s.toFixed(2)}: “${sentences[a]}” and “${sentences[b]}”`))));
  // Colours through the CSSOM (the CSP allows no inline styles): white at 0, the accent at 1.
  output.querySelectorAll('.try-matrix td').forEach((cell) => {
    const t = Math.max(0, Math.min(1, Number(cell.dataset.sim)));
    cell.style.background = `color-mix(in srgb, var(--accent, #6d4aff) ${(100 * t).toFixed(0)}%, transparent)`;
    if (t > 0.55) cell.style.color = '#fff';
  });
}

// A text box for bag-of-words text models: the vocabulary's counts of the lowercased tokens
// (letters and apostrophes), the encoding such models' cards describe.
const MAX_TEXT = 2000;
function textWidget(root, input, vocab, run, show, fail) {
  const n = features(input);
  if (!vocab || vocab.length !== n) {
    fail(`This page encodes text as counts over the model's vocabulary; the card names no vocabulary of ${n} entries.`);
    return;
  }
  const index = new Map(vocab.map((word, i) => [word, i]));
  const form = el('form', { class: 'try-text', 'data-testid': 'try-form', novalidate: '' });
  const text = el('textarea', { rows: '3', maxlength: String(MAX_TEXT), 'data-testid': 'try-text', 'aria-label': 'Text to classify' });
  const known = el('p', { class: 'muted', 'data-testid': 'try-known' });
  form.append(text, el('button', { type: 'submit', class: 'button', 'data-testid': 'try-run' }, 'Classify'), known);
  form.onsubmit = (event) => {
    event.preventDefault();
    const value = text.value.trim();
    if (!value) return fail('Type some text first.');
    if (value.length > MAX_TEXT) return fail(`The text is ${value.length} characters; the demo takes up to ${MAX_TEXT}.`);
    const counts = new Float32Array(n);
    const seen = [];
    for (const token of value.toLowerCase().match(/[a-z']+/g) || []) {
      if (index.has(token)) {
        counts[index.get(token)] += 1;
        seen.push(token);
      }
    }
    known.textContent = seen.length ? `Words the model knows: ${seen.join(', ')}` : 'None of these words is in the model\'s vocabulary: the answer is its prior.';
    run([counts], [new Uint32Array([1, n])], show);
  };
  root.append(form);
}

// A form with one number field per input column, named by the card where it lists them.
function tabularWidget(root, input, preprocessing, run, show, fail) {
  const n = features(input);
  const named = (preprocessing || '').split(/,\s*/).map((s) => s.trim());
  const form = el('form', { class: 'try-form', 'data-testid': 'try-form', novalidate: '' });
  const fields = [];
  for (let i = 0; i < n; i++) {
    const field = el('input', { type: 'text', inputmode: 'decimal', name: `x${i}`, value: '0', 'data-testid': `try-field-${i}` });
    form.append(el('label', {}, named.length === n ? named[i] : `${input.name}[${i}]`, field));
    fields.push(field);
  }
  form.append(el('button', { type: 'submit', class: 'button', 'data-testid': 'try-run' }, 'Run'));
  form.onsubmit = (event) => {
    event.preventDefault();
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const raw = fields[i].value.trim();
      const value = Number(raw);
      if (raw === '' || !Number.isFinite(value)) {
        fail(`${fields[i].parentElement.firstChild.textContent} must be a number, not "${raw}".`);
        fields[i].focus();
        return;
      }
      values[i] = value;
    }
    run([values], [new Uint32Array([1, n])], show);
  };
  root.append(form);
}

// How an image becomes the model's input: `[1, C, H, W]` (C = 1 or 3, NCHW) or a flattened
// square `[1, H*W]`; colour as RGB values, grayscale as ink (dark high), scaled to the card's
// `0..N` range.
function imageLayout(input, preprocessing) {
  const dims = input.shape.slice(1);
  let channels = 1;
  let side = Math.round(Math.sqrt(features(input)));
  if (dims.length === 3 && (dims[0] === 1 || dims[0] === 3) && dims[1] === dims[2] && dims[1] > 0) {
    [channels, side] = [dims[0], dims[1]];
  } else if (side * side !== features(input)) {
    return null;
  }
  const top = Number((preprocessing || '').match(/0\s*\.\.\s*(\d+(?:\.\d+)?)/)?.[1] ?? 1);
  return { channels, side, top, shape: [1, ...(dims.length === 3 ? [channels, side, side] : [side * side])] };
}

// Draw or pick an image; it is scaled to the model's square input.
function imageWidget(root, input, preprocessing, run, show, fail) {
  const layout = imageLayout(input, preprocessing);
  if (!layout) {
    fail(`This page makes square images of one or three channels; the model wants ${input.shape.join('×')}.`);
    return;
  }
  const { channels, side, top } = layout;
  const n = channels * side * side;
  const canvas = el('canvas', { width: '160', height: '160', class: 'try-canvas', 'data-testid': 'try-canvas', 'aria-label': 'Draw here' });
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const clear = () => {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, 160, 160);
  };
  clear();
  let drawing = false;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * 160) / r.width, ((e.clientY - r.top) * 160) / r.height];
  };
  canvas.onpointerdown = (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    ctx.beginPath();
    ctx.moveTo(...at(e));
  };
  canvas.onpointermove = (e) => {
    if (!drawing) return;
    ctx.lineWidth = 16;
    ctx.lineCap = 'round';
    ctx.strokeStyle = '#000';
    ctx.lineTo(...at(e));
    ctx.stroke();
  };
  canvas.onpointerup = () => {
    drawing = false;
    classify();
  };
  const classify = () => {
    const small = document.createElement('canvas');
    small.width = side;
    small.height = side;
    const sctx = small.getContext('2d', { willReadFrequently: true });
    sctx.drawImage(canvas, 0, 0, side, side);
    const rgba = sctx.getImageData(0, 0, side, side).data;
    const values = new Float32Array(n);
    const plane = side * side;
    for (let i = 0; i < plane; i++) {
      if (channels === 3) {
        for (let c = 0; c < 3; c++) values[c * plane + i] = (rgba[4 * i + c] / 255) * top;
      } else {
        const lum = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
        values[i] = (1 - lum) * top;
      }
    }
    run([values], [Uint32Array.from(layout.shape)], show);
  };
  const pick = el('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif', 'data-testid': 'try-image' });
  pick.onchange = async () => {
    const file = pick.files[0];
    if (!file) return;
    if (!/^image\/(png|jpeg|webp|gif)$/.test(file.type)) {
      fail(`${file.name} is not a PNG, JPEG, WebP or GIF image.`);
      return;
    }
    try {
      const bitmap = await createImageBitmap(file);
      clear();
      ctx.drawImage(bitmap, 0, 0, 160, 160);
      classify();
    } catch {
      fail(`${file.name} could not be read as an image.`);
    }
  };
  const reset = el('button', { type: 'button', class: 'button button-secondary button-small' }, 'Clear');
  reset.onclick = clear;
  root.append(canvas, el('div', { class: 'try-image-tools' }, el('label', {}, 'Or pick an image ', pick), reset));
}

// Class scores as bars, best five first; softmax applied when the scores are not probabilities.
function showClasses(output, outputs, labels) {
  const scores = Array.from(outputs[outputs.length - 1].data);
  const sum = scores.reduce((a, b) => a + b, 0);
  const probabilities = scores.every((s) => s >= 0) && Math.abs(sum - 1) < 1e-3
    ? scores
    : (() => {
        const top = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - top));
        const z = e.reduce((a, b) => a + b, 0);
        return e.map((x) => x / z);
      })();
  const ranked = probabilities.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, 5);
  output.replaceChildren(el('ol', { class: 'try-classes' }, ...ranked.map(([p, i]) => {
    const label = labels?.[i] ?? `class ${i}`;
    return el('li', { 'data-testid': 'try-class', 'data-label': label, 'data-p': p.toFixed(6) },
      el('span', { class: 'try-label' }, label),
      el('span', { class: 'try-bar', style: undefined }, el('span', { class: 'try-bar-fill' })),
      el('span', { class: 'try-p' }, `${(100 * p).toFixed(1)}%`));
  })));
  // Widths through the CSSOM: the site's CSP allows no inline style attributes.
  output.querySelectorAll('.try-bar-fill').forEach((fill, k) => {
    fill.style.width = `${(100 * ranked[k][0]).toFixed(1)}%`;
  });
}

function showValues(output, outputs) {
  output.replaceChildren(...outputs.map((o) => el('p', { 'data-testid': 'try-value', 'data-name': o.name, 'data-value': String(o.data[0]) },
    el('strong', {}, o.name), ` ${Array.from(o.data, (v) => v.toFixed(2)).join(', ')}`)));
}

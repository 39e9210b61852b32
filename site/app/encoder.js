// The query encoder: the same model as `tracker search` (its ONNX graph, whose word table the page
// looks up itself and whose linear weights arrive as int8 and run as float32), run by
// onnxruntime-web's WebAssembly backend, with tokenizers.js for the WordPiece split.
// Every file comes from this site (no remote models, wasm served from vendor/); the model and the
// wasm binary are kept in the Cache Storage under the model's hash, so they download once.

const MAX_TOKENS = 256; // sentence-transformers' max_seq_length for MiniLM
const CACHE_PREFIX = 'paper-tracker-model-';

// WebAssembly exists and may compile here (a browser or policy can turn either off).
export function canUseModel() {
  try {
    return new WebAssembly.Module(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0)) instanceof WebAssembly.Module;
  } catch {
    return false;
  }
}

const MODULES = ['vendor/ort.wasm.min.mjs', 'vendor/ort-wasm-simd-threaded.mjs', 'vendor/tokenizers.min.mjs'];
const FILES = ['model/model.onnx', 'vendor/ort-wasm-simd-threaded.wasm.gz', 'model/words.bin', 'model/words.json',
  'model/linear.bin', 'model/linear.json', 'model/tokenizer.json', 'model/tokenizer_config.json'];

// On a first visit, start every download the model needs at once, as preloads that loadEncoder's
// fetches then reuse (before the site's data has even said which model it is). Later visits have
// it all in the Cache Storage; a browser without WebAssembly downloads none of it.
export async function preloadModel(alsoFiles = []) {
  if (!canUseModel() || ('caches' in self && (await caches.keys()).some((name) => name.startsWith(CACHE_PREFIX)))) return;
  const preload = (attributes) => document.head.append(Object.assign(document.createElement('link'), attributes));
  for (const href of MODULES) preload({ rel: 'modulepreload', href });
  for (const href of [...FILES, ...alsoFiles]) preload({ rel: 'preload', as: 'fetch', crossOrigin: 'anonymous', href });
}

async function cached(url, key) {
  if (!('caches' in self)) return fetchOk(url).then(inflated);
  const name = CACHE_PREFIX + key;
  const cache = await caches.open(name);
  let response = await cache.match(url);
  if (!response) {
    response = await fetchOk(url).then(inflated);
    const copy = response.clone();
    cache.put(url, copy).then(() => forgetOtherModels(name)).catch(() => {}); // in the background: no wait

  }
  return response;
}

async function forgetOtherModels(keep) {
  for (const old of await caches.keys()) if (old.startsWith(CACHE_PREFIX) && old !== keep) await caches.delete(old);
}

// A .gz file's content (the runtime is stored gzip-compressed), unless the server already inflated it.
async function inflated(response) {
  if (!response.url.endsWith('.gz')) return response;
  const bytes = await response.arrayBuffer();
  const gzip = new Uint8Array(bytes, 0, 2).every((b, i) => b === [0x1f, 0x8b][i]);
  return new Response(gzip ? new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')) : bytes);
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

// `notBefore`: the session is created only once it has settled (its set-up holds the page's one
// thread for a second or so), while the files download, inflate and the libraries load meanwhile.
export async function loadEncoder(modelId, notBefore = Promise.resolve()) {
  if (!canUseModel()) throw new Error('this browser has no WebAssembly');
  // the files download while the libraries load (or since preloadModel)
  const files = Promise.all(FILES.map((url) => cached(url, modelId).then((r) => (url.endsWith('.json') ? r.json() : r.arrayBuffer()))));
  const [ort, { Tokenizer }] = await Promise.all([
    import('./vendor/ort.wasm.min.mjs'), import('./vendor/tokenizers.min.mjs'),
  ]);
  performance.mark('model-libraries');
  const [model, wasm, wordBytes, wordShape, linearBytes, linearLayout, tokenizerJson, tokenizerConfig] = await files;
  performance.mark('model-files');
  await notBefore.catch(() => {});
  ort.env.wasm.wasmPaths = new URL('./vendor/', import.meta.url).href;
  ort.env.wasm.wasmBinary = wasm;
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.proxy = false;
  // No graph optimisation (its set-up costs more than it saves for a one-line query).
  const session = await ort.InferenceSession.create(new Uint8Array(model), {
    executionProviders: ['wasm'], graphOptimizationLevel: 'disabled',
    externalData: [{ path: linearLayout.file, data: linearWeights(linearLayout, linearBytes) }],
  });
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  const words = wordTable(wordShape, wordBytes);
  performance.mark('model-session');
  return { embed: (text) => embed(ort, session, tokenizer, words, text) };
}

// The linear layers' weights as the graph reads them (encoders/browser.py: split_linear_weights): float32
// matrices one after another, from linear.bin's int8 copy: per matrix a float32 scale per column,
// then the int8 values row by row. The graph's own int8 kernel would unpack them on every query.
function linearWeights({ matrices }, bytes) {
  const out = new Float32Array(matrices.reduce((sum, [rows, cols]) => sum + rows * cols, 0));
  let read = 0;
  let written = 0;
  for (const [rows, cols] of matrices) {
    const scales = new Float32Array(bytes.slice(read, read + 4 * cols)); // slice: aligned for float32
    const values = new Int8Array(bytes, read + 4 * cols, rows * cols);
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++, i++) out[written + i] = values[i] * scales[c];
    }
    written += rows * cols;
    read += 4 * cols + rows * cols;
  }
  return new Uint8Array(out.buffer);
}

// The word embeddings the graph leaves out (encoders/browser.py: write_word_table): a float32 scale per row,
// then the int8 rows.
function wordTable({ rows, dim }, bytes) {
  const scales = new Float32Array(bytes, 0, rows);
  const values = new Int8Array(bytes, rows * 4, rows * dim);
  const lookup = (ids) => { // -> Float32Array [ids.length, dim]
    const out = new Float32Array(ids.length * dim);
    ids.forEach((id, t) => {
      for (let c = 0; c < dim; c++) out[t * dim + c] = values[id * dim + c] * scales[id];
    });
    return out;
  };
  lookup.dim = dim;
  return lookup;
}

// A unit vector for `text`: the model's token vectors, mean-pooled over the real tokens.
async function embed(ort, session, tokenizer, words, text) {
  let ids = tokenizer.encode(String(text)).ids;
  if (ids.length > MAX_TOKENS) ids = [...ids.slice(0, MAX_TOKENS - 1), ids[ids.length - 1]];
  const shape = [1, ids.length];
  const given = {
    token_vectors: new ort.Tensor('float32', words(ids), [1, ids.length, words.dim]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), shape),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(ids.length), shape),
  };
  const feeds = Object.fromEntries(session.inputNames.map((name) => [name, given[name]]));
  const output = (await session.run(feeds))[session.outputNames[0]];
  const dim = output.dims[output.dims.length - 1];
  const vector = new Float32Array(dim);
  const rows = output.dims.length === 3 ? output.dims[1] : 1; // token vectors, or already pooled
  for (let t = 0; t < rows; t++) for (let i = 0; i < dim; i++) vector[i] += output.data[t * dim + i] / rows;
  const norm = Math.hypot(...vector) || 1;
  return vector.map((x) => x / norm);
}

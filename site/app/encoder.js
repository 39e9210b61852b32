// The query encoder: the same model as `tracker search` (its int8 ONNX graph), run by
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

async function cached(url, key) {
  if (!('caches' in self)) return fetchOk(url);
  const name = CACHE_PREFIX + key;
  const cache = await caches.open(name);
  let response = await cache.match(url);
  if (!response) {
    response = await fetchOk(url);
    const copy = response.clone();
    cache.put(url, copy).then(() => forgetOtherModels(name)).catch(() => {}); // in the background: no wait

  }
  return response;
}

async function forgetOtherModels(keep) {
  for (const old of await caches.keys()) if (old.startsWith(CACHE_PREFIX) && old !== keep) await caches.delete(old);
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

export async function loadEncoder(modelId) {
  if (!canUseModel()) throw new Error('this browser has no WebAssembly');
  const [ort, { Tokenizer }] = await Promise.all([
    import('./vendor/ort.wasm.min.mjs'), import('./vendor/tokenizers.min.mjs'),
  ]);
  performance.mark('model-libraries');
  const [tokenizerJson, tokenizerConfig, model, wasm] = await Promise.all([
    cached('model/tokenizer.json', modelId).then((r) => r.json()),
    cached('model/tokenizer_config.json', modelId).then((r) => r.json()),
    cached('model/model.onnx', modelId).then((r) => r.arrayBuffer()),
    cached('vendor/ort-wasm-simd-threaded.wasm', modelId).then((r) => r.arrayBuffer()),
  ]);
  performance.mark('model-files');
  ort.env.wasm.wasmPaths = new URL('./vendor/', import.meta.url).href;
  ort.env.wasm.wasmBinary = wasm;
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.proxy = false;
  const session = await ort.InferenceSession.create(new Uint8Array(model), { executionProviders: ['wasm'] });
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  performance.mark('model-session');
  return { embed: (text) => embed(ort, session, tokenizer, text) };
}

// A unit vector for `text`: the model's token vectors, mean-pooled over the real tokens.
async function embed(ort, session, tokenizer, text) {
  let ids = tokenizer.encode(String(text)).ids;
  if (ids.length > MAX_TOKENS) ids = [...ids.slice(0, MAX_TOKENS - 1), ids[ids.length - 1]];
  const shape = [1, ids.length];
  const given = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), shape),
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

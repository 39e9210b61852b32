// Runs a site graph as the page does (onnxruntime-web, WebAssembly, one thread, no graph optimisation)
// for tests/test_onnx_graph.py: node site_graph.mjs ORT_DIST MODEL INPUTS_JSON OUTPUT_BIN
// INPUTS_JSON: {shape: [batch, sequence, hidden], token_vectors: [...], attention_mask: [...], token_type_ids: [...]}
// OUTPUT_BIN: the graph's first output, float32 little-endian.
import { readFileSync, writeFileSync } from 'node:fs';

const [dist, model, inputsPath, outputPath] = process.argv.slice(2);
const ort = await import(`${dist}/ort.wasm.min.mjs`);
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = `${dist}/`;
const session = await ort.InferenceSession.create(readFileSync(model), {
  executionProviders: ['wasm'], graphOptimizationLevel: 'disabled',
});
const inputs = JSON.parse(readFileSync(inputsPath, 'utf8'));
const [batch, sequence, hidden] = inputs.shape;
const ints = (values) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [batch, sequence]);
const given = {
  token_vectors: new ort.Tensor('float32', Float32Array.from(inputs.token_vectors), [batch, sequence, hidden]),
  attention_mask: ints(inputs.attention_mask),
  token_type_ids: ints(inputs.token_type_ids),
};
const feeds = Object.fromEntries(session.inputNames.map((name) => [name, given[name]]));
const output = (await session.run(feeds))[session.outputNames[0]];
writeFileSync(outputPath, Buffer.from(output.data.buffer, output.data.byteOffset, output.data.byteLength));

// Latency of one ONNX model in ONNX Runtime (CPU), measured the way
// rtscope-run measures a batch run: random inputs of the given shapes,
// `warmup` untimed runs, then `iterations` timed session.run calls.
// Prints one JSON line: {"model", "p50_ms", "mean_ms", "iterations"}.
//
//   node tests/bench/ort_latency.cjs MODEL.onnx NAME:DxD[,NAME:DxD] [iterations] [warmup]
const {ort, counts, createSession, elapsedMs, report, run} = require('./ort_common.cjs');

async function main() {
  const [model, shapesText, iterationsText, warmupText] = process.argv.slice(2);
  const {iterations, warmup} = counts(iterationsText, warmupText);
  const session = await createSession(model);
  const feeds = {};
  let seed = 1;
  for (const entry of shapesText.split(',')) {
    const [name, dimsText] = entry.split(':');
    const dims = dimsText.split('x').map(Number);
    const count = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    for (let i = 0; i < count; ++i) {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      data[i] = (seed / 4294967296) * 2 - 1;
    }
    feeds[name] = new ort.Tensor('float32', data, dims);
  }
  for (let i = 0; i < warmup; ++i) await session.run(feeds);
  const samples = [];
  for (let i = 0; i < iterations; ++i) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    samples.push(elapsedMs(start));
  }
  report(model, samples, iterations);
}

run('ort_latency', main);

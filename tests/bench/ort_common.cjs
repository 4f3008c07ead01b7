// What the ONNX Runtime benchmarks (ort_latency.cjs, ort_decoder.cjs) share:
// a CPU session set up as rtscope's runs are compared with (all graph
// optimizations, ORT_THREADS intra-op threads, default 2), their command
// line's iteration counts, and the one JSON line they print.
//
// onnxruntime-node comes from npm (scripts/bench_onnx.sh installs it into
// build-ort/ with --ignore-scripts); NODE_PATH points there.
const ort = require('onnxruntime-node');

// `iterations` and `warmup` from the command line, defaulting to 200 and 20.
function counts(iterationsText, warmupText) {
  return {iterations: Number(iterationsText || 200), warmup: Number(warmupText || 20)};
}

function createSession(model) {
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: Number(process.env.ORT_THREADS || 2),
    interOpNumThreads: 1,
  });
}

// Milliseconds since `start` (a process.hrtime.bigint()).
function elapsedMs(start) {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

// Prints {"model", "p50_ms", "mean_ms", "iterations"} for the timed samples.
function report(model, samples, iterations) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  console.log(JSON.stringify({model, p50_ms: sorted[Math.floor(sorted.length / 2)], mean_ms: mean, iterations}));
}

// Runs `main` and turns a failure into one line on stderr, named `tool`,
// and exit code 1.
function run(tool, main) {
  main().catch((error) => {
    console.error(`${tool}: ${error.message}`);
    process.exit(1);
  });
}

module.exports = {ort, counts, createSession, elapsedMs, report, run};

// A decoder export (rtscope-onnx-export --builtin decoder) in ONNX Runtime
// (CPU), timed the way rtscope-run's stream workload times the built-in
// decoder: a 16-token random prompt (untimed), then one-token decode steps
// fed back by argmax, a new stream every `tokens` steps. Prints one JSON
// line: {"model", "p50_ms", "mean_ms", "iterations"}.
//
//   node tests/bench/ort_decoder.cjs MODEL.onnx concat|fixed step|prefill [iterations] [warmup]
//
// concat: present = Concat(past, new rows); each step feeds the presents
// back as the next pasts (Hugging Face's loop). fixed: max_seq-row caches
// written by ScatterElements at position_ids (ORT's in-place variant; see
// ORT_BIND_PRESENT below). prefill times the 16-token prompt from empty
// caches instead of the decode steps.
const {ort, counts, createSession, elapsedMs, report, run} = require('./ort_common.cjs');

const kPrompt = 16;
const kTokens = 64;

async function main() {
  const [model, style, mode, iterationsText, warmupText] = process.argv.slice(2);
  const {iterations, warmup} = counts(iterationsText, warmupText);
  const session = await createSession(model);
  // Cache geometry from the model's declared inputs.
  const pasts = session.inputNames.filter((n) => n.startsWith('past_key_values.'));
  const meta = session.inputMetadata
    ? Object.fromEntries(session.inputMetadata.map((m) => [m.name, m]))
    : {};
  const dims = (name) => (meta[name] && meta[name].shape) || [];
  const [, kvHeads, cacheLen, headDim] = dims(pasts[0]);
  const vocabDims = session.outputMetadata
    ? session.outputMetadata.find((m) => m.name === 'logits').shape
    : [];
  const vocab = vocabDims[vocabDims.length - 1];

  let seed = 1;
  const token = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return BigInt(seed % vocab);
  };
  const emptyCaches = () => {
    const caches = {};
    const len = style === 'fixed' ? cacheLen : 0;
    for (const name of pasts) {
      caches[name] = new ort.Tensor('float32', new Float32Array(kvHeads * len * headDim),
                                    [1, kvHeads, len, headDim]);
    }
    return caches;
  };
  const present = (past) => past.replace('past_key_values.', 'present.');

  // ORT_BIND_PRESENT=1 binds each present output of the fixed style to its
  // past input's buffer (no copy of the cache between steps); otherwise
  // the presents are fed back as the next pasts, as in the concat style.
  const bindPresent = style === 'fixed' && process.env.ORT_BIND_PRESENT === '1';
  let caches = emptyCaches();
  let position = 0;
  let next = 0n;
  const step = async (ids) => {
    const feeds = Object.assign({}, caches);
    feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from(ids), [1, ids.length]);
    feeds.position_ids = new ort.Tensor(
        'int64', BigInt64Array.from(ids.map((_, i) => BigInt(position + i))), [1, ids.length]);
    let out;
    if (bindPresent) {
      const fetches = {logits: null};
      for (const name of pasts) fetches[present(name)] = caches[name];
      out = await session.run(feeds, fetches);
    } else {
      out = await session.run(feeds);
      for (const name of pasts) caches[name] = out[present(name)];
    }
    const logits = out.logits.data;
    const last = (ids.length - 1) * vocab;
    let best = 0;
    for (let v = 1; v < vocab; ++v) if (logits[last + v] > logits[last + best]) best = v;
    next = BigInt(best);
    position += ids.length;
  };
  const prompt = async () => {
    caches = emptyCaches();
    position = 0;
    await step(Array.from({length: kPrompt}, token));
  };

  const samples = [];
  let steps = kTokens;
  for (let i = 0; i < warmup + iterations; ++i) {
    let start;
    if (mode === 'prefill') {
      caches = emptyCaches();
      position = 0;
      const ids = Array.from({length: kPrompt}, token);
      start = process.hrtime.bigint();
      await step(ids);
    } else {
      if (steps === kTokens) {
        await prompt();
        steps = 0;
      }
      start = process.hrtime.bigint();
      await step([next]);
      ++steps;
    }
    if (i >= warmup) samples.push(elapsedMs(start));
  }
  report(model, samples, iterations);
}

run('ort_decoder', main);

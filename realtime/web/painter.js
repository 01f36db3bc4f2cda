// A painter: onnxruntime-web on one thread, in a worker of its own. The page starts one per core and gives each
// whole frames, which keeps every core busy where one session on several threads waits on its slowest layers.
"use strict";

importScripts("ort/ort.wasm.min.js");
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL("ort/", self.location.href).href;

const sessions = new Map();

function session(url) {
  if (!sessions.has(url)) {
    const created = ort.InferenceSession.create(url, { executionProviders: ["wasm"], logSeverityLevel: 3 });
    created.catch(() => sessions.delete(url)); // a failed load is tried again next time
    sessions.set(url, created);
  }
  return sessions.get(url);
}

// {id, url} loads a model and answers its input and output names; {id, url, feeds: {name: {type, data, dims}}}
// runs it and answers {outputs: {name: {data, dims}}, ms}; a failure answers {error}.
self.onmessage = async ({ data: { id, url, feeds } }) => {
  try {
    const loaded = await session(url);
    if (!feeds) {
      self.postMessage({ id, inputNames: loaded.inputNames, outputNames: loaded.outputNames });
      return;
    }
    const tensors = {};
    for (const [name, feed] of Object.entries(feeds)) tensors[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
    const started = performance.now();
    const results = await loaded.run(tensors);
    const ms = performance.now() - started;
    const outputs = {};
    for (const [name, tensor] of Object.entries(results)) outputs[name] = { data: tensor.data, dims: tensor.dims };
    self.postMessage({ id, outputs, ms }, Object.values(outputs).map((output) => output.data.buffer));
  } catch (error) {
    self.postMessage({ id, error: String(error && error.message ? error.message : error) });
  }
};

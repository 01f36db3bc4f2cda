// The browser page of `stylize serve`: runs contract models (uint8 BGR NHWC in and out) with
// onnxruntime-web's WebAssembly backend on a webcam, an image or a video. The models run in painters
// (painter.js), workers that paint whole frames side by side, so the page itself never waits on a model.
"use strict";

const ORT_VERSION = "1.30.0"; // keep in step with package.json and realtime/serve.py
const $ = (id) => document.getElementById(id);

// Everything the page knows, also read by the browser test.
const state = {
  catalogue: [], model: null, source: null, image: null, stream: null, loopToken: 0, frames: 0, lastMs: 0,
  fps: 0, frameInterval: 0, lastFrameAt: 0, painters: 0, ortFrom: null, error: null, paintings: null,
  styleVector: null, painting: null, precision: null,
};
window.stylize = state;

function setStatus(text, pageState) {
  $("status").textContent = text;
  if (pageState) document.body.dataset.state = pageState;
}

function fail(error) {
  state.error = String(error && error.message ? error.message : error);
  setStatus(state.error, "error");
  console.error(error);
}

// The painters: one worker per core (at most 4), each running onnxruntime-web on one thread. onnxruntime-web
// is loaded by them from this server (the copy inside the package): nothing is loaded from elsewhere.
const ORT_BASE = "ort/";
const painters = [];
let lastJobId = 0;

function startPainters(count) {
  for (let i = 0; i < count; i += 1) {
    const painter = { worker: new Worker("painter.js"), jobs: new Map() };
    painter.worker.onmessage = ({ data }) => {
      const job = painter.jobs.get(data.id);
      painter.jobs.delete(data.id);
      if (data.error) job.reject(new Error(data.error)); else job.resolve(data);
    };
    painter.worker.onerror = (event) => {
      event.preventDefault();
      painter.jobs.forEach((job) => job.reject(new Error(`a painter stopped: ${event.message}`)));
      painter.jobs.clear();
    };
    painters.push(painter);
  }
  state.painters = count;
}

// Ask a painter to load the model at `url` and, given feeds ({name: {type, data, dims}}), to run it; answers
// {outputs, ms}, or without feeds the model's input and output names.
function ask(painter, url, feeds) {
  const id = ++lastJobId;
  return new Promise((resolve, reject) => {
    painter.jobs.set(id, { resolve, reject });
    painter.worker.postMessage({ id, url, feeds });
  });
}

function leastBusy() {
  return painters.reduce((best, painter) => (painter.jobs.size < best.jobs.size ? painter : best));
}

function paint(url, feeds) {
  return ask(leastBusy(), url, feeds);
}

// The file the page runs for a model: its int8 copy where one is offered and int8 is chosen, else the model.
function modelFile(entry) {
  const int8 = $("precision").value === "int8" && entry.int8Url;
  return int8 ? { url: entry.int8Url, precision: "int8" } : { url: entry.url, precision: "fp32" };
}

// Load a style model into every painter once (the status says so meanwhile); a failed load is tried again
// next time.
const loaded = new Map();
function loadModel(name) {
  const entry = state.catalogue.find((m) => m.name === name);
  const { url } = modelFile(entry);
  if (!loaded.has(url)) {
    setStatus(`loading ${name} (${entry.size_mb} MB)…`, "loading");
    const loading = Promise.all(painters.map((painter) => ask(painter, url)));
    loading.catch(() => loaded.delete(url));
    loaded.set(url, loading);
  }
  return loaded.get(url);
}

// Canvas RGBA <-> the contract's uint8 BGR, NHWC.
function rgbaToBgr(rgba) {
  const bgr = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    bgr[j] = rgba[i + 2]; bgr[j + 1] = rgba[i + 1]; bgr[j + 2] = rgba[i];
  }
  return bgr;
}

function bgrIntoRgba(bgr, rgba) {
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgba[i] = bgr[j + 2]; rgba[i + 1] = bgr[j + 1]; rgba[i + 2] = bgr[j]; rgba[i + 3] = 255;
  }
}

// `strength` is an overridable initializer (default 1) in the model, which onnxruntime-web does not
// let callers feed, so the blend with the original happens here, as the graph would do it.
function blend(original, styled, strength) {
  if (strength >= 1) return styled;
  return styled.map((v, i) => Math.round(original[i] + strength * (v - original[i])));
}

// The processing size: the source's, shrunk to the chosen longer side.
function fitSize(width, height) {
  const longest = Number($("max-size").value);
  if (!longest || Math.max(width, height) <= longest) return [width, height];
  const scale = longest / Math.max(width, height);
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

const inputCanvas = document.createElement("canvas");
const inputContext = inputCanvas.getContext("2d", { willReadFrequently: true });

// A canvas keeps its pixels unless resized: resizing one to the size it has would reallocate it every frame.
function sizeCanvas(canvas, width, height) {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
}

// The source's picture at the processing size, as canvas pixels and as the contract's input.
function captureFrame(source, width, height, mirror) {
  const [w, h] = fitSize(width, height);
  sizeCanvas(inputCanvas, w, h);
  inputContext.save();
  if (mirror) { inputContext.translate(w, 0); inputContext.scale(-1, 1); }
  inputContext.drawImage(source, 0, 0, w, h);
  inputContext.restore();
  const pixels = inputContext.getImageData(0, 0, w, h);
  return { w, h, pixels, frame: rgbaToBgr(pixels.data) };
}

// Hand a captured frame to a painter with the chosen model; the job's result comes when it is painted.
async function startPainting(captured) {
  const name = state.model;
  const entry = state.catalogue.find((m) => m.name === name);
  const { url, precision } = modelFile(entry);
  await loadModel(name);
  const { w, h, frame } = captured;
  const feeds = { frame: { type: "uint8", data: frame, dims: [1, h, w, 3] } };
  if (entry.styleDefault) { // the live model: the dropped painting's style, or its default
    feeds.style = { type: "float32", data: state.styleVector || Float32Array.from(entry.styleDefault),
      dims: [entry.styleDefault.length] };
  }
  return { captured, name, precision, painted: Boolean(state.painting && entry.styleDefault), token: state.loopToken,
    result: paint(url, feeds) };
}

// Show a painted frame and its figures, unless its source has been replaced meanwhile.
async function showPainted(job) {
  const { outputs, ms } = await job.result;
  if (job.token !== state.loopToken) return;
  const { w, h, pixels, frame } = job.captured;
  bgrIntoRgba(blend(frame, outputs.stylized.data, Number($("strength").value)), pixels.data);
  const output = $("output");
  sizeCanvas(output, w, h);
  output.getContext("2d").putImageData(pixels, 0, 0);

  const now = performance.now();
  state.frames += 1;
  state.lastMs = ms;
  if (state.lastFrameAt) { // frames shown per second: the inverse of the mean time between them
    const interval = now - state.lastFrameAt;
    state.frameInterval = state.frameInterval ? 0.9 * state.frameInterval + 0.1 * interval : interval;
    state.fps = 1000 / state.frameInterval;
  }
  state.lastFrameAt = now;
  state.precision = job.precision;
  const rate = state.source === "image" ? "still image" : `${state.fps.toFixed(1)} fps`;
  const workers = `${state.painters} worker${state.painters > 1 ? "s" : ""}`;
  $("fps").textContent = `${rate} · ${ms.toFixed(0)} ms/frame in one of ${workers} · ${w}×${h}`;
  const painted = job.painted ? ` (${state.painting})` : "";
  setStatus(`${job.name}${painted} · ${job.precision} · onnxruntime-web ${ORT_VERSION} (wasm, ${workers})`,
    "running");
}

async function stylizeFrame(source, width, height) {
  await showPainted(await startPainting(captureFrame(source, width, height, false)));
}

function stopSources() {
  state.loopToken += 1;
  state.fps = 0;
  state.frameInterval = 0;
  state.lastFrameAt = 0;
  if (state.stream) state.stream.getTracks().forEach((track) => track.stop());
  state.stream = null;
  const video = $("video");
  video.pause();
  video.srcObject = null;
  video.removeAttribute("src");
}

// Webcam and video: each painter in turn gets the newest frame, the turns spaced evenly over a frame's painting
// time so that painted frames come evenly too; they are shown in the order they were taken, for as long as
// this source is current.
async function runVideoLoop() {
  const token = state.loopToken;
  const video = $("video");
  const inFlight = [];
  let lastStart = 0;
  while (token === state.loopToken) {
    const started = performance.now();
    try {
      if (inFlight.length >= painters.length) await showPainted(inFlight.shift());
      await pause(lastStart + state.lastMs / painters.length - performance.now());
      if (token === state.loopToken && video.readyState >= 2 && video.videoWidth) {
        const mirror = state.source === "webcam" && $("mirror").checked;
        lastStart = performance.now();
        inFlight.push(await startPainting(captureFrame(video, video.videoWidth, video.videoHeight, mirror)));
      }
    } catch (error) {
      fail(error);
      return;
    }
    await nextTurn(performance.now() - started);
  }
  inFlight.forEach((job) => job.result.catch(() => {})); // the source changed: frames still painting are not shown
}

function pause(ms) {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

// Let the page handle its events, then go on. A frame that took longer than a display refresh is followed at
// once (waiting for the next refresh would idle the model for part of one every frame); faster ones wait for
// the refresh, so a fast machine paints no more often than the display shows.
const REFRESH_MS = 1000 / 60;
const channel = new MessageChannel();
function nextTurn(frameMs) {
  if (frameMs < REFRESH_MS) return new Promise((resolve) => requestAnimationFrame(resolve));
  return new Promise((resolve) => { channel.port1.onmessage = resolve; channel.port2.postMessage(null); });
}

async function startWebcam() {
  stopSources();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("this browser gives no camera access here (it needs localhost or https)");
  }
  state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  state.source = "webcam";
  const video = $("video");
  video.srcObject = state.stream;
  await video.play();
  runVideoLoop();
}

async function startVideo(file) {
  stopSources();
  state.source = "video";
  const video = $("video");
  video.src = URL.createObjectURL(file);
  video.loop = true;
  await video.play();
  runVideoLoop();
}

async function showImage(file) {
  stopSources();
  state.source = "image";
  state.image = await createImageBitmap(file);
  await restylizeImage();
}

async function restylizeImage() {
  if (state.source === "image" && state.image) {
    await stylizeFrame(state.image, state.image.width, state.image.height);
  }
}

// Any painting as the style: its centred square, at the encoder's size, becomes the live model's
// style vector (Magenta's style-prediction net, run here in the page like the models).
async function usePainting(file) {
  if (!state.paintings) throw new Error("this server offers no live model, so paintings cannot be used");
  if (!file.type.startsWith("image/")) throw new Error(`${file.name}: not an image`);
  const bitmap = await createImageBitmap(file);
  if (Math.min(bitmap.width, bitmap.height) < 16) throw new Error(`${file.name}: too small for a painting's style`);
  const size = state.paintings.inputSize;
  const side = Math.min(bitmap.width, bitmap.height);
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.fillStyle = "white"; // transparency over white, as the desktop tool does
  context.fillRect(0, 0, size, size);
  context.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, size, size);
  const rgba = context.getImageData(0, 0, size, size).data;
  const rgb = new Float32Array(size * size * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i] / 255; rgb[j + 1] = rgba[i + 1] / 255; rgb[j + 2] = rgba[i + 2] / 255;
  }
  setStatus(`reading the style of ${file.name}…`, "loading");
  const reader = painters[0]; // one painting, one run: the encoder is loaded into one painter only
  const { inputNames, outputNames } = await ask(reader, state.paintings.encoder);
  const feeds = { [inputNames[0]]: { type: "float32", data: rgb, dims: [1, size, size, 3] } };
  const { outputs } = await ask(reader, state.paintings.encoder, feeds);
  state.styleVector = Float32Array.from(outputs[outputNames[0]].data);
  state.painting = file.name;
  state.model = state.paintings.model;
  $("style").value = state.model;
  setStatus(`painting: ${file.name} · choose the webcam, an image or a video`, "ready");
  await restylizeImage();
}

function guarded(action) {
  return (...args) => Promise.resolve().then(() => action(...args)).catch(fail);
}

async function main() {
  const response = await fetch("models.json");
  if (!response.ok) throw new Error(`models.json: HTTP ${response.status}`);
  const config = await response.json();
  state.catalogue = config.models;
  state.paintings = config.paintings;
  startPainters(Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)));

  const picker = $("style");
  for (const model of state.catalogue) {
    const option = new Option(`${model.style} (${model.architecture}, ${model.size_mb} MB)`, model.name);
    picker.add(option);
  }
  const requested = new URLSearchParams(location.search).get("model");
  const known = (name) => state.catalogue.some((m) => m.name === name);
  state.model = known(requested) ? requested : known(config.default) ? config.default : state.catalogue[0].name;
  picker.value = state.model;
  await loadModel(state.model);
  state.ortFrom = ORT_BASE; // the painters loaded it from there
  setStatus(`ready: ${state.model} · choose the webcam, an image or a video`, "ready");

  picker.addEventListener("change", guarded(async () => { state.model = picker.value; await restylizeImage(); }));
  $("strength").addEventListener("change", guarded(restylizeImage));
  $("max-size").addEventListener("change", guarded(restylizeImage));
  $("precision").addEventListener("change", guarded(restylizeImage));
  $("webcam").addEventListener("click", guarded(startWebcam));
  $("image-input").addEventListener("change", guarded((event) => event.target.files[0] && showImage(event.target.files[0])));
  $("video-input").addEventListener("change", guarded((event) => event.target.files[0] && startVideo(event.target.files[0])));
  $("save").addEventListener("click", () => { $("save").href = $("output").toDataURL("image/png"); });
  $("painting-input").addEventListener("change", guarded((event) => event.target.files[0] && usePainting(event.target.files[0])));
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", guarded((event) => { // a painting dropped anywhere on the page
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    return file && usePainting(file);
  }));
}

guarded(main)();

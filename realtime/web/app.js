// The browser page of `stylize serve`: runs contract models (uint8 BGR NHWC in and out) with
// onnxruntime-web's WebAssembly backend on a webcam, an image or a video.
"use strict";

const ORT_VERSION = "1.30.0"; // keep in step with package.json and realtime/serve.py
const $ = (id) => document.getElementById(id);

// Everything the page knows, also read by the browser test.
const state = {
  catalogue: [], sessions: new Map(), model: null, source: null, image: null, stream: null,
  loopToken: 0, frames: 0, lastMs: 0, fps: 0, lastFrameAt: 0, threads: 1, ortFrom: null, error: null,
  paintings: null, encoder: null, styleVector: null, painting: null, precision: null,
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

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.crossOrigin = "anonymous";
    script.onload = resolve;
    script.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(script);
  });
}

// onnxruntime-web from this server (the copy inside the package): nothing is loaded from elsewhere.
async function loadOrt() {
  const base = "ort/";
  await loadScript(base + "ort.wasm.min.js");
  ort.env.wasm.wasmPaths = new URL(base, location.href).href;
  return base;
}

// The file the page runs for a model: its int8 copy where one is offered and int8 is chosen, else the model.
function modelFile(entry) {
  const int8 = $("precision").value === "int8" && entry.int8Url;
  return int8 ? { url: entry.int8Url, precision: "int8" } : { url: entry.url, precision: "fp32" };
}

function getSession(name) {
  const entry = state.catalogue.find((m) => m.name === name);
  const { url } = modelFile(entry);
  if (!state.sessions.has(url)) {
    setStatus(`loading ${name} (${entry.size_mb} MB)…`, "loading");
    const created = ort.InferenceSession.create(url, { executionProviders: ["wasm"], logSeverityLevel: 3 });
    created.catch(() => state.sessions.delete(url)); // a failed load is tried again next time
    state.sessions.set(url, created);
  }
  return state.sessions.get(url);
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

async function stylizeFrame(source, width, height, mirror) {
  const [w, h] = fitSize(width, height);
  inputCanvas.width = w;
  inputCanvas.height = h;
  const context = inputCanvas.getContext("2d", { willReadFrequently: true });
  context.save();
  if (mirror) { context.translate(w, 0); context.scale(-1, 1); }
  context.drawImage(source, 0, 0, w, h);
  context.restore();
  const pixels = context.getImageData(0, 0, w, h);

  const name = state.model;
  const session = await getSession(name);
  const frame = rgbaToBgr(pixels.data);
  const feeds = { frame: new ort.Tensor("uint8", frame, [1, h, w, 3]) };
  if (session.inputNames.includes("style")) { // the live model: the dropped painting's style, or its default
    const entry = state.catalogue.find((m) => m.name === name);
    feeds.style = new ort.Tensor("float32", state.styleVector || Float32Array.from(entry.styleDefault),
      [entry.styleDefault.length]);
  }
  const started = performance.now();
  const { stylized } = await session.run(feeds);
  const now = performance.now();
  bgrIntoRgba(blend(frame, stylized.data, Number($("strength").value)), pixels.data);
  const output = $("output");
  output.width = w;
  output.height = h;
  output.getContext("2d").putImageData(pixels, 0, 0);

  state.frames += 1;
  state.lastMs = now - started;
  if (state.lastFrameAt) {
    const fps = 1000 / (now - state.lastFrameAt);
    state.fps = state.fps ? 0.9 * state.fps + 0.1 * fps : fps;
  }
  state.lastFrameAt = now;
  const rate = state.source === "image" ? "still image" : `${state.fps.toFixed(1)} fps`;
  $("fps").textContent = `${rate} · ${state.lastMs.toFixed(0)} ms/frame · ${w}×${h}`;
  const painted = state.painting && feeds.style ? ` (${state.painting})` : "";
  const { precision } = modelFile(state.catalogue.find((m) => m.name === name));
  state.precision = precision;
  setStatus(`${name}${painted} · ${precision} · onnxruntime-web ${ORT_VERSION} (wasm, ${state.threads} thread${state.threads > 1 ? "s" : ""})`,
    "running");
}

function stopSources() {
  state.loopToken += 1;
  state.fps = 0;
  state.lastFrameAt = 0;
  if (state.stream) state.stream.getTracks().forEach((track) => track.stop());
  state.stream = null;
  const video = $("video");
  video.pause();
  video.srcObject = null;
  video.removeAttribute("src");
}

// Webcam and video: stylize the newest frame, then the next, for as long as this source is current.
async function runVideoLoop() {
  const token = state.loopToken;
  const video = $("video");
  while (token === state.loopToken) {
    const started = performance.now();
    if (video.readyState >= 2 && video.videoWidth) {
      try {
        await stylizeFrame(video, video.videoWidth, video.videoHeight, state.source === "webcam" && $("mirror").checked);
      } catch (error) {
        fail(error);
        return;
      }
    }
    await nextTurn(performance.now() - started);
  }
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
    await stylizeFrame(state.image, state.image.width, state.image.height, false);
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
  state.encoder = state.encoder || await ort.InferenceSession.create(state.paintings.encoder,
    { executionProviders: ["wasm"], logSeverityLevel: 3 });
  const results = await state.encoder.run({ [state.encoder.inputNames[0]]: new ort.Tensor("float32", rgb, [1, size, size, 3]) });
  state.styleVector = Float32Array.from(results[state.encoder.outputNames[0]].data);
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
  state.ortFrom = await loadOrt();
  state.threads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.numThreads = state.threads;

  const picker = $("style");
  for (const model of state.catalogue) {
    const option = new Option(`${model.style} (${model.architecture}, ${model.size_mb} MB)`, model.name);
    picker.add(option);
  }
  const requested = new URLSearchParams(location.search).get("model");
  const known = (name) => state.catalogue.some((m) => m.name === name);
  state.model = known(requested) ? requested : known(config.default) ? config.default : state.catalogue[0].name;
  picker.value = state.model;
  await getSession(state.model);
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

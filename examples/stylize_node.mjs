// Stylize one image with a contract model from JavaScript (Node.js, onnxruntime-web's WebAssembly
// backend; the same calls work in a browser and with onnxruntime-node).
//
//   npm install                       # once, in the project root: installs onnxruntime-web
//   node examples/stylize_node.mjs models/candy.onnx photo.ppm stylized.ppm [strength]
//
// Images are binary PPM (P6, 8-bit RGB), so the example needs no image library:
// `convert photo.jpg photo.ppm` or OpenCV's imwrite make one.
import { readFileSync, writeFileSync } from "node:fs";
import * as ort from "onnxruntime-web";

function readPpm(path) {
  const bytes = readFileSync(path);
  // header: "P6" width height maxval, separated by whitespace (comments not supported)
  const fields = [];
  let pos = 0;
  while (fields.length < 4) {
    while (/\s/.test(String.fromCharCode(bytes[pos]))) pos++;
    const start = pos;
    while (!/\s/.test(String.fromCharCode(bytes[pos]))) pos++;
    fields.push(bytes.toString("latin1", start, pos));
  }
  const [magic, width, height, maxval] = [fields[0], +fields[1], +fields[2], +fields[3]];
  if (magic !== "P6" || maxval !== 255) throw new Error(`${path}: not an 8-bit binary PPM (P6)`);
  return { width, height, rgb: bytes.subarray(pos + 1, pos + 1 + width * height * 3) };
}

function writePpm(path, width, height, rgb) {
  writeFileSync(path, Buffer.concat([Buffer.from(`P6\n${width} ${height}\n255\n`), Buffer.from(rgb)]));
}

// RGB <-> BGR: the contract's frames are OpenCV's uint8 BGR, NHWC
function swapRedBlue(pixels) {
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i += 3) {
    out[i] = pixels[i + 2]; out[i + 1] = pixels[i + 1]; out[i + 2] = pixels[i];
  }
  return out;
}

const [modelPath, inputPath, outputPath, strength = "1"] = process.argv.slice(2);
if (!outputPath) {
  console.error("usage: node examples/stylize_node.mjs MODEL.onnx INPUT.ppm OUTPUT.ppm [STRENGTH]");
  process.exit(2);
}
ort.env.wasm.numThreads = 1; // one thread keeps the example simple
// logSeverityLevel 3: the optional strength input is an overridable initializer, by design
const session = await ort.InferenceSession.create(readFileSync(modelPath), { logSeverityLevel: 3 });
const { width, height, rgb } = readPpm(inputPath);
const frame = swapRedBlue(rgb);
const feeds = { frame: new ort.Tensor("uint8", frame, [1, height, width, 3]) };
const started = performance.now();
const { stylized } = await session.run(feeds);
console.log(`${width}x${height} in ${(performance.now() - started).toFixed(0)} ms`);
// `strength` is an overridable initializer (default 1), which onnxruntime-web does not let callers
// feed, so the blend with the original happens here, as the graph would do it.
const s = Number(strength);
const blended = stylized.data.map((v, i) => Math.round(frame[i] + s * (v - frame[i])));
writePpm(outputPath, width, height, swapRedBlue(blended));

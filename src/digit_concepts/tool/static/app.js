// The try-it page: draw on the canvas or record / upload a recording; the server answers with the
// learner's concept, its partner and what it imagines. No library, nothing from the network.
"use strict";

const ZONE_WORDS = {
  convergence: "convergence zone: both senses meet on this concept",
  divergence: "divergence zone: this concept spreads over several concepts of the other sense",
  both: "convergence zone, and divergent: the senses meet, and the partner spreads over several audio clusters",
  none: "no zone: the senses do not meet on this concept",
};
const DEBOUNCE_MS = 150; // a pause in the stroke this long asks the learner again
const maxSeconds = Number(document.body.dataset.maxSeconds);
const maxBytes = Number(document.body.dataset.maxMegabytes) * 1024 * 1024;

// What the end-to-end tests and the benchmark read: milliseconds from asking to the answer on screen.
window.pageTimings = { drawing: [], recording: [] };

const $ = (id) => document.getElementById(id);

function show(element, visible) {
  element.hidden = !visible;
}

// ------------------------------------------------------------------------------------ answers

async function ask(endpoint, blob, filename) {
  const form = new FormData();
  form.append("file", blob, filename);
  const response = await fetch(endpoint, { method: "POST", body: form });
  let body;
  try {
    body = await response.json();
  } catch (error) {
    throw new Error(`the server answered ${response.status} without an explanation`);
  }
  if (!response.ok) {
    throw new Error(body.error || `the server answered ${response.status}`);
  }
  return body;
}

function percent(value) {
  return `${(100 * value).toFixed(value >= 0.995 || value < 0.01 ? 0 : 1)}%`;
}

function showVerdict(prefix, answer) {
  $(`${prefix}-concept`).textContent = answer.concept;
  $(`${prefix}-confidence`).textContent = `confidence ${percent(answer.confidence)}`;
  const meter = $(`${prefix}-meter`);
  meter.style.width = `${Math.max(2, 100 * answer.confidence)}%`;
  meter.classList.toggle("low", answer.unsure);

  const doubt = $(`${prefix}-doubt`);
  doubt.replaceChildren();
  if (answer.unsure) {
    const title = document.createElement("strong");
    title.textContent = "The learner is unsure about this one:";
    const reasons = document.createElement("ul");
    for (const reason of answer.doubts) {
      const item = document.createElement("li");
      item.textContent = reason;
      reasons.append(item);
    }
    doubt.append(title, reasons);
  }
  show(doubt, answer.unsure);

  const partner = $(`${prefix}-partner`);
  const zone = document.createElement("span");
  zone.className = `zone ${answer.zone}`;
  zone.textContent = answer.zone === "none" ? "no zone" : answer.zone;
  zone.title = ZONE_WORDS[answer.zone] || "";
  if (answer.sense === "audio") {
    $(`${prefix}-cluster`).textContent = `(its cluster ${answer.cluster})`;
  }
  partner.replaceChildren(
    `Partner: ${answer.partner_sense} concept ${answer.partner}, which came with `
      + `${percent(answer.p_partner_given_concept)} of this concept's episodes. `,
    zone,
  );
  partner.title = answer.description;
}

function showExamples(prefix, answer, caption) {
  const figure = $(`${prefix}-examples-figure`);
  if (answer.examples) {
    $(`${prefix}-examples`).src = answer.examples;
    $(`${prefix}-examples-caption`).textContent = caption;
  }
  show(figure, Boolean(answer.examples));
}

function showTiming(prefix, milliseconds, answer) {
  $(`${prefix}-timing`).textContent =
    `answered in ${Math.round(milliseconds)} ms (the learner took ${Math.round(1000 * answer.learner_seconds)} ms)`;
}

function showError(prefix, message) {
  const error = $(`${prefix}-error`);
  error.textContent = message;
  show(error, Boolean(message));
  if (message) {
    show($(`${prefix}-result`), false);
    show($(`${prefix}-placeholder`), false);
  }
}

// ------------------------------------------------------------------------------------ drawing

const canvas = $("canvas");
const pen = canvas.getContext("2d");
let strokes = 0; // strokes since the canvas was last cleared
let last = null; // the previous point of the stroke being drawn
let pending = null; // the debounce timer
let asking = false; // a drawing is with the server
let askAgain = false; // the drawing changed while it was

function clearCanvas() {
  pen.fillStyle = "white";
  pen.fillRect(0, 0, canvas.width, canvas.height);
  strokes = 0;
  clearTimeout(pending);
  show($("draw-result"), false);
  showError("draw", "");
  show($("draw-placeholder"), true);
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * canvas.width) / box.width,
    y: ((event.clientY - box.top) * canvas.height) / box.height,
  };
}

function drawTo(next) {
  pen.strokeStyle = "black";
  pen.fillStyle = "black";
  pen.lineWidth = canvas.width / 13; // MNIST's strokes are about a tenth of the digit's height
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  if (last) {
    pen.moveTo(last.x, last.y);
    pen.lineTo(next.x, next.y);
    pen.stroke();
  } else {
    pen.arc(next.x, next.y, pen.lineWidth / 2, 0, 2 * Math.PI);
    pen.fill();
  }
  last = next;
}

function soon() {
  clearTimeout(pending);
  pending = setTimeout(recogniseDrawing, DEBOUNCE_MS);
}

canvas.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  last = null;
  strokes += 1;
  drawTo(point(event));
  soon();
});
canvas.addEventListener("pointermove", (event) => {
  if (last === null || !canvas.hasPointerCapture(event.pointerId)) return;
  for (const sample of event.getCoalescedEvents ? event.getCoalescedEvents() : [event]) {
    drawTo(point(sample));
  }
  soon();
});
for (const type of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(type, () => {
    if (last !== null) soon();
    last = null;
  });
}
$("clear").addEventListener("click", clearCanvas);
// Its length beside the player, whose clock reads 0:00 for a sound shorter than a second.
$("draw-sound").addEventListener("loadedmetadata", (event) => {
  $("draw-sound-caption").textContent =
    `the sound it imagines for your drawing (${event.target.duration.toFixed(1)} s; press play)`;
});

// The canvas as PNG, at once: toBlob would wait for the browser to be idle (a second or more while
// the pointer is still moving).
function canvasPng() {
  const base64 = canvas.toDataURL("image/png").split(",")[1];
  return new Blob([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], { type: "image/png" });
}

async function recogniseDrawing() {
  if (strokes === 0) return;
  if (asking) {
    askAgain = true;
    return;
  }
  asking = true;
  const started = performance.now();
  try {
    const answer = await ask("/api/drawing", canvasPng(), "drawing.png");
    if (strokes === 0) return; // cleared meanwhile
    showError("draw", "");
    show($("draw-placeholder"), false);
    show($("draw-result"), true); // first: a player given its sound while hidden shows no length
    showVerdict("draw", answer);
    $("draw-seen").src = answer.seen;
    $("draw-sound").src = answer.imagined_sound;
    showExamples("draw", answer, `training images the learner placed in image concept ${answer.concept}`);
    const elapsed = performance.now() - started;
    window.pageTimings.drawing.push(elapsed);
    showTiming("draw", elapsed, answer);
  } catch (error) {
    showError("draw", error.message);
  } finally {
    asking = false;
    if (askAgain) {
      askAgain = false;
      recogniseDrawing();
    }
  }
}

// ------------------------------------------------------------------------------------ speaking

// A mono 16-bit PCM WAV of samples in [-1, 1]: what the server reads (it takes no WebM or MP4).
function wavOf(samples, sampleRate) {
  const bytes = new DataView(new ArrayBuffer(44 + 2 * samples.length));
  const text = (offset, value) => [...value].forEach((c, i) => bytes.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF");
  bytes.setUint32(4, 36 + 2 * samples.length, true);
  text(8, "WAVE");
  text(12, "fmt ");
  bytes.setUint32(16, 16, true); // the format chunk's size
  bytes.setUint16(20, 1, true); // PCM
  bytes.setUint16(22, 1, true); // one channel
  bytes.setUint32(24, sampleRate, true);
  bytes.setUint32(28, 2 * sampleRate, true); // bytes per second
  bytes.setUint16(32, 2, true); // bytes per frame
  bytes.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  bytes.setUint32(40, 2 * samples.length, true);
  samples.forEach((value, i) => {
    const clipped = Math.max(-1, Math.min(1, value));
    bytes.setInt16(44 + 2 * i, clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff, true);
  });
  return new Blob([bytes], { type: "audio/wav" });
}

// The browser's recording (WebM/Opus, MP4...) decoded by the browser and written as a WAV.
async function recordingAsWav(blob) {
  const context = new AudioContext();
  try {
    const decoded = await context.decodeAudioData(await blob.arrayBuffer());
    const mono = new Float32Array(decoded.length);
    for (let channel = 0; channel < decoded.numberOfChannels; channel += 1) {
      decoded.getChannelData(channel).forEach((value, i) => {
        mono[i] += value / decoded.numberOfChannels;
      });
    }
    return wavOf(mono, decoded.sampleRate);
  } finally {
    context.close();
  }
}

async function recogniseRecording(file, filename) {
  const started = performance.now();
  $("record-status").textContent = "Listening to it…";
  try {
    if (file.size > maxBytes) {
      throw new Error(`this file is too large (more than ${maxBytes / 1024 / 1024} MB)`);
    }
    const answer = await ask("/api/recording", file, filename);
    showError("speak", "");
    show($("speak-placeholder"), false);
    show($("speak-result"), true);
    showVerdict("speak", answer);
    $("speak-image").src = answer.imagined_image;
    $("speak-spectrogram").src = answer.spectrogram;
    showExamples("speak", answer, `training images of image concept ${answer.partner}, its partner`);
    const elapsed = performance.now() - started;
    window.pageTimings.recording.push(elapsed);
    showTiming("speak", elapsed, answer);
    $("record-status").textContent = `${answer.seconds.toFixed(1)} s of sound`;
  } catch (error) {
    $("record-status").textContent = "";
    showError("speak", error.message);
  }
}

$("upload").addEventListener("change", (event) => {
  const [file] = event.target.files;
  if (file) recogniseRecording(file, "upload");
  event.target.value = ""; // the same file chosen again is a new upload
});

let recorder = null;
let stopTimer = null;
let ticker = null;

function setRecording(on) {
  $("record").classList.toggle("recording", on);
  $("record-label").textContent = on ? "Stop" : "Record";
  clearTimeout(stopTimer);
  clearInterval(ticker);
}

async function startRecording() {
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    showError("speak", "This browser cannot record here: the microphone needs a secure page, such as this page "
      + "opened as localhost or 127.0.0.1 (from another computer: through an SSH tunnel). You can still upload a "
      + "recording.");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    showError("speak", `No microphone: ${error.message}. You can still upload a recording.`);
    return;
  }
  const pieces = [];
  recorder = new MediaRecorder(stream);
  recorder.addEventListener("dataavailable", (event) => pieces.push(event.data));
  recorder.addEventListener("stop", async () => {
    stream.getTracks().forEach((track) => track.stop());
    setRecording(false);
    recorder = null;
    try {
      const wav = await recordingAsWav(new Blob(pieces, { type: pieces[0] ? pieces[0].type : "" }));
      await recogniseRecording(wav, "recording.wav");
    } catch (error) {
      showError("speak", `The recording could not be read by this browser (${error.message}).`);
    }
  });
  recorder.start();
  setRecording(true);
  const began = performance.now();
  $("record-status").textContent = "Recording… say one digit, then press Stop.";
  ticker = setInterval(() => {
    $("record-status").textContent = `Recording… ${((performance.now() - began) / 1000).toFixed(1)} s`;
  }, 100);
  stopTimer = setTimeout(() => recorder && recorder.stop(), Math.max(1, maxSeconds - 0.5) * 1000);
}

$("record").addEventListener("click", () => {
  if (recorder) recorder.stop();
  else startRecording();
});

clearCanvas();

// Synthesize page: latent sliders over GET /directions, live images from POST /edit
// (debounced, one request in flight), presets, inversion of a photo (POST /invert) and mixing
// (POST /mix with two latents).
import { $, api, debounce, el, imageSrc, say } from "./common.js";

const RANGE = 3; // sliders span -3..+3 standard deviations
const SIZE = 256;
const status = $("#synth-status");
const state = {
  base: { preset: "random", seed: 0 }, // where the sliders start: a preset, seed or z
  z: null, // the latent of the face shown (from the server)
  changes: {}, // direction name -> amount
  pending: false,
  again: false,
  mixB: null, // face B's latent
};

function sliderRow(name, label) {
  const id = `slider-${name}`;
  const input = el("input", {
    type: "range", id, min: -RANGE, max: RANGE, step: 0.1, value: 0, "data-direction": name,
    "aria-label": label,
  });
  const out = el("output", { for: id, text: "0.0" });
  input.addEventListener("input", () => {
    const v = Number(input.value);
    out.textContent = v.toFixed(1);
    if (v === 0) delete state.changes[name];
    else state.changes[name] = v;
    scheduleEdit();
  });
  return el("div", { class: "slider" }, el("label", { for: id }, el("span", { text: label }), out), input);
}

// GET /directions, normalised to {kind: [names]} and the preset names.
async function loadDirections() {
  const r = await api("/directions");
  const groups = { attribute: [], pca: [], raw: [] };
  const list = r.directions ?? r;
  if (Array.isArray(list)) {
    for (const d of list) {
      const kind = d.kind === "orthogonal" ? null : d.kind;
      if (kind && groups[kind]) groups[kind].push(d.name);
    }
  } else {
    for (const kind of Object.keys(groups)) groups[kind] = list[kind] ?? [];
  }
  if (!groups.raw.length && r.latent_dim) {
    groups.raw = Array.from({ length: r.latent_dim }, (_, i) => `dim_${i}`);
  }
  return { groups, presets: r.presets ?? [] };
}

const LABELS = { age: "age (+ older)", gender: "gender (+ female)", smile: "smile (+ smiling)" };

function buildSliders({ groups, presets }) {
  for (const [kind, names] of Object.entries(groups)) {
    const box = $(`#sliders-${kind}`);
    box.replaceChildren(...names.map((n) => sliderRow(n, LABELS[n] ?? n)));
  }
  const box = $("#presets");
  const classes = presets.filter((p) => !["random", "face"].includes(p));
  box.replaceChildren(...classes.map((name) => el("button", {
    type: "button", class: "secondary", text: name, "data-preset": name,
    onclick: () => start({ preset: name }),
  })));
}

function resetSliders() {
  state.changes = {};
  for (const input of document.querySelectorAll("input[data-direction]")) {
    input.value = 0;
    input.parentElement.querySelector("output").textContent = "0.0";
  }
}

// One edit request at a time; a slider moved meanwhile sends one more when it returns.
async function runEdit() {
  if (state.pending) {
    state.again = true;
    return;
  }
  state.pending = true;
  try {
    do {
      state.again = false;
      const t0 = performance.now();
      const body = { ...state.base, changes: { ...state.changes }, size: SIZE };
      const r = await api("/edit", { method: "POST", body });
      const total = performance.now() - t0;
      show(r, total);
    } while (state.again);
    say(status, "");
  } catch (err) {
    say(status, err.message, true);
  } finally {
    state.pending = false;
  }
}
const scheduleEdit = debounce(runEdit, 60);

function show(r, totalMs) {
  $("#face-img").src = imageSrc(r.image);
  state.z = r.z ?? state.z;
  const server = typeof r.seconds === "number" ? r.seconds * 1000 : undefined;
  $("#edit-timing").textContent =
    (server !== undefined ? `server ${Math.round(server)} ms · ` : "") + `round trip ${Math.round(totalMs)} ms`;
  updateMix();
}

function start(base) {
  state.base = base;
  resetSliders();
  runEdit();
}

$("#btn-random").addEventListener("click", () => {
  start({ preset: "random", seed: Math.floor(Math.random() * 1e9) });
});
$("#btn-reset").addEventListener("click", () => {
  resetSliders();
  runEdit();
});

// Select a face: invert an upload (or an image passed as ?image=<url> from Datasets).
async function invert(blob) {
  const optimize = $("#invert-optimize").checked;
  say(status, `Finding this face in the latent space${optimize ? " (about 8 s)" : ""}…`);
  const data = new FormData();
  data.append("file", blob, "face.png");
  data.append("method", optimize ? "auto" : "encoder");
  const r = await api("/invert", { method: "POST", body: data });
  start({ z: r.z });
  const sim = r.identity_similarity;
  say(status, `Inverted (${r.method}; SSIM ${r.ssim.toFixed(2)}` +
    (typeof sim === "number" ? `, identity similarity ${sim.toFixed(2)}` : "") + ").");
}

$("#invert-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("#invert-run");
  button.disabled = true;
  try {
    await invert($("#invert-file").files[0]);
  } catch (err) {
    say(status, err.message, true);
  } finally {
    button.disabled = false;
  }
});

// --- mixing: A is the face shown, B a random latent or an inverted photo
const mixStatus = $("#mix-status");
async function updateMixNow() {
  if (!state.z || !state.mixB) return;
  try {
    const alpha = Number($("#mix-alpha").value);
    const r = await api("/mix", { method: "POST", body: { z_a: state.z, z_b: state.mixB, alpha, size: SIZE } });
    $("#mix-out").src = imageSrc(r.image);
    $("#mix-caption").textContent = `alpha ${alpha.toFixed(2)}`;
    $("#mix-a").src = $("#face-img").src;
    say(mixStatus, "");
  } catch (err) {
    say(mixStatus, err.message, true);
  }
}
const updateMix = debounce(updateMixNow, 80);
$("#mix-alpha").addEventListener("input", updateMix);

async function setB(r) {
  state.mixB = r.z;
  $("#mix-b").src = imageSrc(r.image);
  updateMix();
}

$("#mix-random").addEventListener("click", async () => {
  try {
    const seed = Math.floor(Math.random() * 1e9);
    setB(await api("/edit", { method: "POST", body: { preset: "random", seed, changes: {}, size: SIZE } }));
  } catch (err) {
    say(mixStatus, err.message, true);
  }
});
$("#mix-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("#mix-file").files[0];
  if (!file) return say(mixStatus, "Choose a photo for face B.", true);
  const button = $("#mix-upload");
  button.disabled = true;
  try {
    say(mixStatus, "Inverting face B…");
    const data = new FormData();
    data.append("file", file);
    data.append("method", $("#invert-optimize").checked ? "auto" : "encoder");
    const r = await api("/invert", { method: "POST", body: data });
    const shown = await api("/edit", { method: "POST", body: { z: r.z, changes: {}, size: SIZE } });
    await setB(shown);
  } catch (err) {
    say(mixStatus, err.message, true);
  } finally {
    button.disabled = false;
  }
});

async function main() {
  try {
    buildSliders(await loadDirections());
  } catch (err) {
    say(status, `Cannot load the directions: ${err.message}`, true);
  }
  const image = new URLSearchParams(location.search).get("image");
  if (image && image.startsWith("/api/v1/")) {
    try {
      await invert(await (await fetch(image, { credentials: "same-origin" })).blob());
      return;
    } catch (err) {
      say(status, err.message, true);
    }
  }
  await runEdit();
}
main();

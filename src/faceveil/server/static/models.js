// Models page: the generators with their metadata and licences, selection, and training jobs
// with progress, a loss plot and per-epoch sample grids.
import { $, api, badge, el, pollJob, say } from "./common.js";

const status = $("#models-status");
const COLOURS = ["#2d5bd7", "#c23b32", "#1d8a4e", "#b7791f", "#7a3fc2"];
const items = (r) => (Array.isArray(r) ? r : r.items ?? r.models ?? r.datasets ?? []);

function tagsText(tags) {
  if (!tags || typeof tags !== "object") return "";
  return Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(", ");
}

async function loadModels() {
  const models = items(await api("/models"));
  $("#models-table tbody").replaceChildren(...models.map((m) => {
    const meta = m.meta ?? m.info ?? m;
    const selectBtn = m.selected
      ? el("span", { class: "badge done", text: "selected" })
      : el("button", { type: "button", class: "secondary", text: "Select", "aria-label": `Select ${m.name}`,
        onclick: () => selectModel(m.name) });
    return el("tr", {},
      el("td", { text: m.name }), el("td", { text: meta.arch ?? m.arch ?? "" }),
      el("td", { text: meta.resolution ?? m.resolution ?? "" }),
      el("td", { text: meta.training_data ?? "" }), el("td", { text: meta.licence ?? "" }),
      el("td", { class: "small muted", text: tagsText(meta.tags) }), el("td", {}, selectBtn));
  }));
}

async function selectModel(name) {
  try {
    await api(`/models/${encodeURIComponent(name)}/select`, { method: "POST" });
    say(status, `${name} is now the studio's generator.`);
    await loadModels();
  } catch (err) {
    say(status, err.message, true);
  }
}

async function loadDatasets() {
  const datasets = items(await api("/datasets"));
  $("#train-dataset").replaceChildren(...datasets.map((d) =>
    el("option", { value: d.id, text: `${d.name} (${d.image_count ?? 0} images)` })));
  if (!datasets.length) $("#train-dataset").append(el("option", { value: "", text: "create a dataset first" }));
}

// --- a training job's view
function plot(epochs) {
  const svg = $("#loss-plot");
  svg.replaceChildren();
  const keys = epochs.length ? Object.keys(epochs[0]).filter((k) => !["epoch", "seconds"].includes(k)) : [];
  const values = epochs.flatMap((e) => keys.map((k) => e[k])).filter(Number.isFinite);
  if (!values.length) return;
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const span = hi - lo || 1;
  const n = Math.max(2, epochs.length);
  keys.forEach((k, i) => {
    const points = epochs.map((e, j) => `${(400 * j) / (n - 1)},${190 - (180 * (e[k] - lo)) / span}`);
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("stroke", COLOURS[i % COLOURS.length]);
    svg.append(line);
  });
  $("#loss-legend").replaceChildren(...keys.map((k, i) => el("span", {
    style: `color:${COLOURS[i % COLOURS.length]}; margin-right:1em`,
    text: `■ ${k} ${epochs.at(-1)[k]}`,
  })), el("span", { class: "muted", text: `(${lo.toFixed(3)} … ${hi.toFixed(3)})` }));
}

let samples = [];
function showSample(i) {
  const s = samples[i];
  if (!s) return;
  $("#sample-grid").src = s.url;
  $("#sample-epoch").textContent = s.epoch;
}
$("#sample-slider").addEventListener("input", (e) => showSample(Number(e.target.value) - 1));

let lastLog = "";
async function update(job) {
  $("#train-badge").replaceChildren(badge(job.status));
  $("#train-progress").value = job.progress ?? 0;
  const lines = (job.log || "").trim().split("\n");
  say($("#train-message"), `${Math.round(job.progress ?? 0)} % · ${lines.at(-1) ?? ""}`);
  $("#train-cancel").disabled = !["queued", "running"].includes(job.status);
  const files = job.files ?? [];
  const fresh = files.filter((f) => f.name.startsWith("samples/")).map((f) => ({
    url: f.url, epoch: Number(f.name.match(/(\d+)/)?.[1] ?? 0),
  }));
  if (fresh.length !== samples.length) {
    samples = fresh;
    const slider = $("#sample-slider");
    slider.max = Math.max(1, samples.length);
    slider.value = samples.length;
    showSample(samples.length - 1);
  }
  const logFile = files.find((f) => f.name === "train_log.json");
  if (logFile && job.log !== lastLog) {
    lastLog = job.log;
    const log = await (await fetch(`${logFile.url}?t=${Date.now()}`, { credentials: "same-origin" })).json();
    plot(log.epochs ?? []);
  }
}

async function showMeta(job) {
  const file = (job.files ?? []).find((f) => f.name === "model.json");
  if (!file) return;
  const info = await (await fetch(file.url, { credentials: "same-origin" })).json();
  const shown = ["name", "arch", "resolution", "latent_dim", "training_data", "licence"];
  $("#model-meta").replaceChildren(...shown.filter((k) => info[k] !== undefined).flatMap((k) =>
    [el("dt", { text: k.replace("_", " ") }), el("dd", { text: String(info[k]) })]),
  el("dt", { text: "tags" }), el("dd", { text: tagsText(info.tags) }));
}

async function watch(id) {
  $("#train-view").hidden = false;
  $("#train-job").textContent = `job #${id}`;
  samples = [];
  lastLog = "";
  $("#train-cancel").onclick = async () => {
    await api(`/jobs/${id}`, { method: "DELETE" }).catch((err) => say($("#train-message"), err.message, true));
  };
  history.replaceState(null, "", `?job=${id}`);
  const end = await pollJob(id, (job) => { update(job); }, 1500);
  await update(end);
  if (end.status === "done") {
    await showMeta(end);
    await loadModels();
  } else if (end.error) {
    say($("#train-message"), `${end.status}: ${end.error}`, true);
  }
}

$("#train-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("#train-run");
  button.disabled = true;
  try {
    const params = {
      dataset_id: Number($("#train-dataset").value),
      name: $("#train-name").value.trim(),
      arch: $("#train-arch").value,
      epochs: Number($("#train-epochs").value),
      res: Number($("#train-res").value),
      batch: Number($("#train-batch").value),
      width: Number($("#train-width").value),
      seed: Number($("#train-seed").value),
    };
    if ($("#train-split").value) params.split = $("#train-split").value;
    if ($("#train-licence").value.trim()) params.licence = $("#train-licence").value.trim();
    const job = await api("/jobs", { method: "POST", body: { kind: "train", params } });
    say($("#train-status"), `Training queued as job #${job.id}.`);
    watch(job.id).catch((err) => say($("#train-message"), err.message, true));
  } catch (err) {
    say($("#train-status"), err.message, true);
  } finally {
    button.disabled = false;
  }
});

loadModels().catch((err) => say(status, err.message, true));
loadDatasets().catch((err) => say($("#train-status"), err.message, true));
const resume = new URLSearchParams(location.search).get("job");
if (resume) watch(Number(resume)).catch((err) => say($("#train-message"), err.message, true));

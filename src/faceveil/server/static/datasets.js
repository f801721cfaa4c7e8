// Datasets page: create, import (files or a zip, with split and tags), a filtered and paged
// thumbnail grid, per-image detail.
import { $, $$, api, el, fmt, pollJob, say } from "./common.js";

const PAGE = 24;
const status = $("#datasets-status");
const select = $("#dataset-select");
const filterForm = $("#filter-form");
let datasets = [];
let offset = 0;
let total = 0;

const items = (r) => (Array.isArray(r) ? r : r.items ?? r.datasets ?? r.images ?? []);
const current = () => datasets.find((d) => String(d.id) === select.value);

async function loadDatasets(selectId) {
  datasets = items(await api("/datasets"));
  select.replaceChildren(...datasets.map((d) =>
    el("option", { value: d.id, text: `${d.name} (${d.image_count ?? d.images ?? 0})` })));
  if (selectId !== undefined) select.value = String(selectId);
  if (!datasets.length) {
    select.append(el("option", { value: "", text: "no dataset yet" }));
  }
  describe();
}

function describe() {
  const d = current();
  $("#dataset-info").textContent = d
    ? `${d.image_count ?? 0} images` + (d.description ? ` · ${d.description}` : "")
    : "Create a dataset to start.";
  $("#dataset-delete").disabled = !d;
  $("#import-run").disabled = !d;
}

function filters() {
  const q = {};
  for (const input of $$("input, select", filterForm)) {
    if (input.value !== "") q[input.name] = input.value;
  }
  return q;
}

function thumbUrl(image) {
  return image.thumbnail_url ?? image.file_url;
}

async function loadGrid() {
  const d = current();
  const grid = $("#grid");
  if (!d) {
    grid.replaceChildren();
    $("#grid-info").textContent = "";
    return;
  }
  const r = await api(`/datasets/${d.id}/images`, { query: { ...filters(), limit: PAGE, offset } });
  const images = items(r);
  total = r.total ?? images.length;
  grid.replaceChildren(...images.map((image) => el("button", {
    type: "button", class: "thumb", "data-image-id": image.id,
    "aria-label": `Image ${image.filename || image.id}`,
    onclick: () => detail(d.id, image),
  },
  el("img", { src: thumbUrl(image), alt: image.filename || `image ${image.id}`, loading: "lazy" }),
  el("div", { text: `${image.face_count ?? 0} face(s)${image.split ? ` · ${image.split}` : ""}` }))));
  const shown = images.length ? `${offset + 1}–${offset + images.length}` : "0";
  $("#grid-info").textContent = `${total} image(s) match; showing ${shown}.`;
  $("#page-info").textContent = `page ${Math.floor(offset / PAGE) + 1} of ${Math.max(1, Math.ceil(total / PAGE))}`;
  $("#prev-page").disabled = offset === 0;
  $("#next-page").disabled = offset + PAGE >= total;
}

const SVG = "http://www.w3.org/2000/svg";
async function detail(datasetId, summary) {
  let image = summary;
  try {
    image = await api(`/datasets/${datasetId}/images/${summary.id}`);
  } catch {
    /* the list entry has the metadata too */
  }
  $("#detail-title").textContent = image.filename || `Image ${image.id}`;
  const img = $("#detail-img");
  img.src = image.file_url;
  const boxes = $("#detail-boxes");
  boxes.setAttribute("viewBox", `0 0 ${image.width} ${image.height}`);
  const faces = image.faces ?? [];
  boxes.replaceChildren(...faces.map((f) => {
    const r = document.createElementNS(SVG, "rect");
    const [x, y, w, h] = f.box ?? [0, 0, 0, 0];
    Object.entries({ x, y, width: w, height: h }).forEach(([k, v]) => r.setAttribute(k, v));
    return r;
  }));
  const meta = {
    size: `${image.width} × ${image.height}`,
    faces: image.face_count ?? faces.length,
    split: image.split ?? "–",
    tags: (image.tags ?? []).join(", ") || "–",
    sha256: image.sha ?? "–",
  };
  $("#detail-meta").replaceChildren(...Object.entries(meta).flatMap(([k, v]) =>
    [el("dt", { text: k }), el("dd", { text: String(v) })]));
  $("#detail-faces tbody").replaceChildren(...faces.map((f, i) => el("tr", {},
    el("td", { text: i + 1 }), el("td", { text: f.age != null ? fmt(f.age, 0) : "–" }),
    el("td", { text: f.gender ?? "–" }), el("td", { text: f.emotion ?? "–" }),
    el("td", { text: f.skin_tone ? f.skin_tone.replace("_", " ") : "–" }))));
  $("#detail-synth").href = `/synthesize?image=${encodeURIComponent(img.src.replace(location.origin, ""))}`;
  $("#detail").showModal();
}

select.addEventListener("change", () => {
  offset = 0;
  describe();
  loadGrid().catch((err) => say(status, err.message, true));
});

filterForm.addEventListener("submit", (event) => {
  event.preventDefault();
  offset = 0;
  loadGrid().catch((err) => say(status, err.message, true));
});
filterForm.addEventListener("reset", () => {
  setTimeout(() => {
    offset = 0;
    loadGrid().catch((err) => say(status, err.message, true));
  });
});
$("#prev-page").addEventListener("click", () => {
  offset = Math.max(0, offset - PAGE);
  loadGrid().catch((err) => say(status, err.message, true));
});
$("#next-page").addEventListener("click", () => {
  offset += PAGE;
  loadGrid().catch((err) => say(status, err.message, true));
});

$("#create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const body = { name: $("#create-name").value.trim(), description: $("#create-description").value };
    const d = await api("/datasets", { method: "POST", body });
    say(status, `Created ${d.name}.`);
    $("#create-form").reset();
    await loadDatasets(d.id);
    await loadGrid();
  } catch (err) {
    say(status, err.message, true);
  }
});

$("#import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const d = current();
  const files = [...$("#import-files").files];
  if (!d || !files.length) return;
  const button = $("#import-run");
  const bar = $("#import-progress");
  button.disabled = true;
  bar.hidden = false;
  let added = 0;
  let skipped = 0;
  try {
    // one request per file: a progress bar, and one bad file does not sink the rest
    for (const [i, file] of files.entries()) {
      say(status, `Importing ${file.name} (${i + 1}/${files.length}); faces are analysed on import…`);
      const data = new FormData();
      data.append("files", file);
      if ($("#import-split").value) data.append("split", $("#import-split").value);
      if ($("#import-tags").value.trim()) data.append("tags", $("#import-tags").value.trim());
      try {
        const r = await api(`/datasets/${d.id}/images`, { method: "POST", body: data });
        added += r.added.length;
        skipped += r.duplicates.length + r.rejected.length;
        if (r.rejected.length) say(status, r.rejected.map((x) => `${x.name}: ${x.error}`).join("; "), true);
      } catch (err) {
        skipped += 1;
        say(status, `${file.name}: ${err.message}`, true);
      }
      bar.value = (100 * (i + 1)) / files.length;
    }
    say(status, `Imported ${added} image(s)` + (skipped ? `, skipped ${skipped}.` : "."));
    $("#import-form").reset();
    await loadDatasets(d.id);
    await loadGrid();
  } finally {
    button.disabled = false;
    bar.hidden = true;
  }
});

$("#dataset-delete").addEventListener("click", async () => {
  const d = current();
  if (!d || !confirm(`Delete the dataset ${d.name} and its images?`)) return;
  try {
    await api(`/datasets/${d.id}`, { method: "DELETE" });
    say(status, `Deleted ${d.name}.`);
    await loadDatasets();
    offset = 0;
    await loadGrid();
  } catch (err) {
    say(status, err.message, true);
  }
});

$("#anon-dataset-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const d = current();
  if (!d) return;
  const params = { dataset_id: d.id, method: $("#anon-dataset-method").value };
  if ($("#anon-dataset-split").value) params.split = $("#anon-dataset-split").value;
  if ($("#anon-dataset-target").value.trim()) params.new_dataset = $("#anon-dataset-target").value.trim();
  const bar = $("#anon-dataset-progress");
  try {
    const job = await api("/jobs", { method: "POST", body: { kind: "anonymize_dataset", params } });
    bar.hidden = false;
    say(status, `Anonymisation job #${job.id} queued (see Jobs for its files).`);
    const end = await pollJob(job.id, (j) => { bar.value = j.progress ?? 0; }, 1000);
    say(status, `Job #${job.id}: ${end.status}${end.error ? ` (${end.error})` : ""}.`, end.status !== "done");
    if (params.new_dataset) await loadDatasets(d.id);
  } catch (err) {
    say(status, err.message, true);
  } finally {
    bar.hidden = true;
  }
});

loadDatasets()
  .then(loadGrid)
  .catch((err) => say(status, err.message, true));

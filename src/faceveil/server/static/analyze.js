// Analyze page: boxes and attributes (POST /analyze), verification (POST /verify) and
// gallery enrol/search.
import { $, api, el, fmt, say } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function loadImage(img, file) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the browser cannot show this image"));
    img.src = URL.createObjectURL(file);
  });
}

function onSubmit(form, button, status, fn) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await fn();
    } catch (err) {
      say(status, err.message, true);
    } finally {
      button.disabled = false;
    }
  });
}

// --- faces in a photo
const aStatus = $("#analyze-status");
onSubmit($("#analyze-form"), $("#analyze-run"), aStatus, async () => {
  const file = $("#analyze-file").files[0];
  say(aStatus, "Analysing…");
  const img = await loadImage($("#analyze-img"), file);
  const data = new FormData();
  data.append("file", file);
  const t0 = performance.now();
  const result = await api("/analyze", { method: "POST", body: data });
  const faces = result.faces ?? result;
  const boxes = $("#analyze-boxes");
  boxes.setAttribute("viewBox", `0 0 ${img.naturalWidth} ${img.naturalHeight}`);
  boxes.replaceChildren();
  const rows = $("#faces-table tbody");
  rows.replaceChildren();
  const fontSize = Math.max(12, Math.min(img.naturalWidth, img.naturalHeight) / 40);
  faces.forEach((f, i) => {
    const [x, y, w, h] = f.box;
    boxes.append(svg("rect", { x, y, width: w, height: h }));
    const label = `${i + 1}`;
    boxes.append(svg("text", { x, y: Math.max(fontSize, y - 4), "font-size": fontSize }, label));
    rows.append(el("tr", {},
      el("td", { text: i + 1 }), el("td", { text: fmt(f.score, 2) }),
      el("td", { text: f.age !== undefined ? fmt(f.age, 0) : "–" }),
      el("td", { text: f.gender ? `${f.gender} (${fmt(f.gender_prob, 2)})` : "–" }),
      el("td", { text: f.emotion ? `${f.emotion} (${fmt(f.emotions?.[f.emotion], 2)})` : "–" })));
  });
  $("#analyze-result").hidden = false;
  say(aStatus, `${faces.length} face(s) in ${Math.round(performance.now() - t0)} ms.`);
});

// --- verification with a gauge from -1 to 1 (drawn from 0 to 1: negatives are "nobody")
const vStatus = $("#verify-status");
function gauge(similarity, threshold) {
  const share = (v) => Math.max(0, Math.min(1, v)) * 100;
  $("#gauge-fill").setAttribute("stroke-dasharray", `${share(similarity)} 100`);
  $("#gauge-fill").setAttribute("stroke", similarity >= threshold ? "#1d8a4e" : "#2d5bd7");
  const angle = Math.PI * (1 - share(threshold) / 100);
  const [cx, cy] = [100 + 80 * Math.cos(angle), 100 - 80 * Math.sin(angle)];
  const [dx, dy] = [Math.cos(angle) * 12, -Math.sin(angle) * 12];
  const line = $("#gauge-threshold");
  line.setAttribute("x1", cx - dx); line.setAttribute("y1", cy - dy);
  line.setAttribute("x2", cx + dx); line.setAttribute("y2", cy + dy);
  $("#gauge-value").textContent = fmt(similarity);
}

onSubmit($("#verify-form"), $("#verify-run"), vStatus, async () => {
  const [a, b] = [$("#verify-a").files[0], $("#verify-b").files[0]];
  say(vStatus, "Comparing…");
  await Promise.all([loadImage($("#verify-img-a"), a), loadImage($("#verify-img-b"), b)]);
  const data = new FormData();
  data.append("file_a", a);
  data.append("file_b", b);
  if ($("#verify-all").checked) data.append("all_pairs", "true");
  const r = await api("/verify", { method: "POST", body: data });
  gauge(r.similarity, r.threshold);
  $("#verify-verdict").textContent = r.same_person
    ? `Same person (similarity ${fmt(r.similarity)} ≥ ${fmt(r.threshold)}).`
    : `Different people (similarity ${fmt(r.similarity)} < ${fmt(r.threshold)}).`;
  $("#verify-result").hidden = false;
  say(vStatus, `${r.faces_a} and ${r.faces_b} face(s) found; ` +
    ($("#verify-all").checked ? "the most similar pair shown." : "the largest of each compared."));
});

// --- gallery
const gStatus = $("#gallery-status");
onSubmit($("#enrol-form"), $("#enrol-run"), gStatus, async () => {
  const data = new FormData();
  data.append("name", $("#enrol-name").value);
  data.append("file", $("#enrol-file").files[0]);
  const r = await api("/gallery", { method: "POST", body: data });
  say(gStatus, `Enrolled ${r.name ?? $("#enrol-name").value}.`);
  $("#enrol-form").reset();
  await gallerySize();
});

onSubmit($("#search-form"), $("#search-run"), gStatus, async () => {
  const data = new FormData();
  data.append("file", $("#search-file").files[0]);
  const r = await api("/gallery/search", { method: "POST", body: data });
  const matches = r.matches ?? r;
  const rows = $("#matches tbody");
  rows.replaceChildren(...matches.map((m) => el("tr", {},
    el("td", { text: m.name }), el("td", { text: fmt(m.similarity) }),
    el("td", { text: m.same_person ? "yes" : "no" }))));
  $("#matches").hidden = false;
  say(gStatus, matches.length ? `${matches.length} name(s), most similar first.` : "The gallery is empty.");
});

async function gallerySize() {
  try {
    const r = await api("/gallery");
    const names = r.faces ?? [];
    $("#gallery-size").textContent = `${r.total ?? names.length} face(s) of ${names.length} name(s) enrolled.`;
  } catch (err) {
    if (err.status === 404 || err.status === 405) {
      // this server has no gallery routes: say so instead of failing on every click
      say(gStatus, "Gallery search is not available on this server (no /api/v1/gallery).");
      for (const b of ["#enrol-run", "#search-run"]) $(b).disabled = true;
    }
  }
}
gallerySize();

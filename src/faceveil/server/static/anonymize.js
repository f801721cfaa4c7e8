// Anonymize page: a photo goes through POST /anonymize (JSON + result link) and /audit;
// a video becomes an anonymize_video job whose progress is polled.
import { $, $$, api, el, fmt, pollJob, say } from "./common.js";

const form = $("#anon-form");
const fileInput = $("#anon-file");
const method = $("#anon-method");
const status = $("#anon-status");
const range = $("#compare-range");
let beforeUrl = null;

function showOptions() {
  const m = method.value;
  for (const label of $$("[data-for]", form)) {
    label.classList.toggle("hidden", !label.dataset.for.split(" ").includes(m));
  }
  for (const help of $$("[data-help]")) help.classList.toggle("hidden", help.dataset.help !== m);
}
method.addEventListener("change", showOptions);
showOptions();

range.addEventListener("input", () => {
  $("#compare").style.setProperty("--split", `${range.value}%`);
});

// The method's options as form fields (only those shown for the method).
function optionFields(data) {
  data.append("method", method.value);
  for (const input of $$("fieldset input, fieldset select", form)) {
    const label = input.closest("label");
    if (label.classList.contains("hidden") || input.value === "") continue;
    if (input.type === "checkbox") {
      data.append(input.name, input.checked ? "true" : "false");
    } else if (input.type === "color") {
      const hex = input.value.slice(1);
      const rgb = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
      data.append(input.name, rgb.join(","));
    } else {
      data.append(input.name, input.value);
    }
  }
  return data;
}

function resultLink(result) {
  return result.result?.url ?? result.url;
}

async function anonymizePhoto(file) {
  say(status, "Anonymising…");
  const t0 = performance.now();
  const data = optionFields(new FormData());
  data.append("file", file);
  if ($("#anon-audit").checked) {
    data.append("audit", "true");
    data.append("recognizers", "sface,dlib");
  }
  const result = await api("/anonymize", { method: "POST", body: data, query: { format: "json" },
    headers: { Accept: "application/json" } });
  const ms = performance.now() - t0;
  let afterBlob;
  let link;
  if (result instanceof Blob) {
    afterBlob = result;
    link = URL.createObjectURL(result);
  } else {
    link = resultLink(result);
    afterBlob = await (await fetch(link, { credentials: "same-origin" })).blob();
  }
  const after = $("#after-img");
  after.src = URL.createObjectURL(afterBlob);
  after.dataset.source = link;
  const download = $("#download");
  download.href = link;
  download.download = `${file.name.replace(/\.[^.]+$/, "")}.anonymized.${afterBlob.type.includes("jpeg") ? "jpg" : "png"}`;
  $("#photo-result").hidden = false;
  const report = result.report ?? {};
  $("#face-summary").textContent =
    `${report.face_count ?? "?"} face(s) covered with ${report.method ?? method.value} ` +
    `in ${Math.round(ms)} ms.` + (report.warnings?.length ? ` ${report.warnings.join(" ")}` : "");
  $("#face-details").textContent = detailText(report.face_details ?? []);
  say(status, "Done.");
  if ($("#anon-audit").checked) await runAudit(file, afterBlob, result.audit);
}

// What a reporting method (cloak, attributes) says per face, one sentence each.
function detailText(details) {
  return details.map((d, i) => {
    if (d.similarity_after === undefined) return "";
    const parts = [`Face ${i + 1}: own-photo SFace similarity ${fmt(d.similarity_after)}` +
      (typeof d.similarity_redetected === "number" ? ` (${fmt(d.similarity_redetected)} re-detected)` : "")];
    if (d.dssim !== undefined) parts.push(`DSSIM ${d.dssim} (budget ${d.budget})`);
    if (d.seconds !== undefined) parts.push(`${d.seconds} s`);
    return parts.join(", ") + "." + (d.warning ? ` Warning: ${d.warning}.` : "");
  }).filter(Boolean).join(" ");
}

function metric(id, value, good, text) {
  const box = $(id);
  box.classList.toggle("good", good === true);
  box.classList.toggle("bad", good === false);
  $(".value", box).textContent = text ?? value;
}

async function runAudit(original, anonymized, already) {
  let report = already;
  if (!report) {
    say(status, "Auditing…");
    const data = new FormData();
    data.append("file_a", original);
    data.append("file_b", anonymized, "anonymized.png");
    data.append("recognizers", "sface,dlib");
    report = await api("/audit", { method: "POST", body: data });
  }
  // faceveil.audit's summary: rates over the faces of the original
  const s = report.summary ?? report;
  const reid = s.max_reid_similarity ?? s.max_identity_similarity;
  const threshold = s.threshold ?? 0.363;
  metric("#m-reid", reid, typeof reid === "number" ? reid < threshold : null, fmt(reid));
  const faces = s.faces ?? 0;
  const kept = typeof s.still_detectable_rate === "number" ? Math.round(s.still_detectable_rate * faces) : null;
  metric("#m-detect", kept, null, kept === null ? "–" : `${kept} / ${faces}`);
  const ssim = s.mean_ssim_outside;
  metric("#m-ssim", ssim, typeof ssim === "number" ? ssim > 0.95 : null, fmt(ssim));
  const dlib = s.min_reid_dlib_distance ?? s.min_dlib_distance;
  const dlibThreshold = s.dlib_threshold ?? 0.6;
  metric("#m-dlib", dlib, typeof dlib === "number" ? dlib >= dlibThreshold : null, fmt(dlib));
  const reidRate = s.re_identified_rate;
  const dlibRate = s.dlib_re_identified_rate;
  $("#audit-summary").textContent = typeof reidRate === "number"
    ? `${Math.round(reidRate * faces)} of ${faces} face(s) re-identified by SFace (similarity ≥ ${threshold})` +
      (typeof dlibRate === "number"
        ? `, ${Math.round(dlibRate * faces)} of ${faces} by dlib (distance < ${dlibThreshold}).`
        : ".")
    : "No face in the original to audit.";
  $("#audit-card").hidden = false;
  say(status, "Done.");
}

// The options as the anonymize_video job takes them: {method, options: {...}}, typed by
// their form inputs (the form is rendered from the option declarations).
function jobParams() {
  const fields = optionFields(new FormData());
  const options = {};
  for (const [k, v] of fields) {
    if (k === "method") continue;
    const input = form.elements[k];
    options[k] = k === "color" ? v.split(",").map(Number)
      : input?.type === "number" ? Number(v) : input?.type === "checkbox" ? v === "true" : v;
  }
  return { method: method.value, options };
}

async function anonymizeVideo(file) {
  say(status, "Uploading the video…");
  const data = new FormData();
  data.append("kind", "anonymize_video");
  data.append("params", JSON.stringify(jobParams()));
  data.append("file", file);
  const job = await api("/jobs/upload", { method: "POST", body: data });
  $("#video-result").hidden = false;
  $("#job-video").hidden = true;
  $("#job-links").replaceChildren();
  $("#photo-result").hidden = true;
  $("#audit-card").hidden = true;
  $("#job-id").textContent = `#${job.id}`;
  say(status, "The video runs as a job; you can leave this page (see Jobs).");
  const end = await pollJob(job.id, (j) => {
    $("#job-progress").value = j.progress ?? 0;
    const last = (j.log || "").trim().split("\n").pop();
    say($("#job-status"), `${j.status} · ${Math.round(j.progress ?? 0)} %` + (last ? ` · ${last}` : ""));
  });
  const links = $("#job-links");
  links.replaceChildren(...(end.files ?? []).map((f) =>
    el("a", { class: "button", href: f.url, download: f.name.split("/").pop(), text: `Download ${f.name}` })));
  const video = (end.files ?? []).find((f) => /\.(mp4|webm|mov|mkv)$/i.test(f.name));
  if (video) {
    $("#job-video").src = video.url;
    $("#job-video").hidden = false;
  }
  if (end.status !== "done") say($("#job-status"), `${end.status}: ${end.error ?? ""}`, true);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = fileInput.files[0];
  if (!file) return say(status, "Choose a photo or video first.", true);
  const button = $("#anon-run");
  button.disabled = true;
  try {
    if (file.type.startsWith("video/")) {
      await anonymizeVideo(file);
    } else {
      if (beforeUrl) URL.revokeObjectURL(beforeUrl);
      beforeUrl = URL.createObjectURL(file);
      $("#before-img").src = beforeUrl;
      $("#video-result").hidden = true;
      await anonymizePhoto(file);
    }
  } catch (err) {
    say(status, err.message, true);
  } finally {
    button.disabled = false;
  }
});

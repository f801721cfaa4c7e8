// Jobs page: every job with its status and progress, refreshed every 2 s; cancel, resume and
// the files each job made.
import { $, api, badge, el, say } from "./common.js";

const status = $("#jobs-status-line");
const ACTIVE = ["queued", "running"];
const RESUMABLE = ["interrupted", "failed", "cancelled"];

function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString();
}

async function act(path, method, label) {
  try {
    await api(path, { method });
    say(status, label);
    await refresh();
  } catch (err) {
    say(status, err.message, true);
  }
}

function row(job) {
  const last = (job.log || "").trim().split("\n").at(-1) || job.error || "";
  const files = job.files ?? [];
  const grids = files.filter((f) => f.name.startsWith("samples/"));
  const links = [...files.filter((f) => !f.name.startsWith("samples/")), grids.at(-1)].filter(Boolean);
  const actions = [];
  if (ACTIVE.includes(job.status)) {
    actions.push(el("button", { type: "button", class: "danger", text: "Cancel", "aria-label": `Cancel job ${job.id}`,
      onclick: () => act(`/jobs/${job.id}`, "DELETE", `Cancelling job ${job.id}.`) }));
  } else if (RESUMABLE.includes(job.status)) {
    actions.push(el("button", { type: "button", class: "secondary", text: "Resume", "aria-label": `Resume job ${job.id}`,
      onclick: () => act(`/jobs/${job.id}/resume`, "POST", `Job ${job.id} queued again.`) }));
  }
  if (job.kind === "train") actions.push(el("a", { href: `/models?job=${job.id}`, text: "Watch" }));
  return el("tr", { "data-job-id": job.id },
    el("td", { text: job.id }), el("td", { text: job.kind }), el("td", {}, badge(job.status)),
    el("td", {}, el("progress", { max: 100, value: job.progress ?? 0, "aria-label": `Progress of job ${job.id}` })),
    el("td", { class: "small", text: when(job.created_at) }),
    el("td", { class: "small muted", text: last.slice(0, 120) }),
    el("td", { class: "small" }, ...links.map((f) => el("a", { href: f.url, text: f.name, style: "display:block" }))),
    el("td", {}, ...actions));
}

async function refresh() {
  const r = await api("/jobs", { query: { status: $("#jobs-status").value, kind: $("#jobs-kind").value, limit: 100 } });
  const jobs = r.items ?? r;
  $("#jobs-table tbody").replaceChildren(...jobs.map(row));
  if (!jobs.length) {
    $("#jobs-table tbody").append(el("tr", {}, el("td", { colspan: 8, class: "muted", text: "No jobs yet." })));
  }
  say(status, `${r.total ?? jobs.length} job(s).`);
}

for (const id of ["#jobs-status", "#jobs-kind"]) $(id).addEventListener("change", () => refresh());
async function loop() {
  try {
    await refresh();
  } catch (err) {
    say(status, err.message, true);
  }
  setTimeout(loop, 2000);
}
loop();

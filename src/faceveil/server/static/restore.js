// Restore page: a photo goes through POST /restore (JSON); the four steps are shown side by side.
import { $, api, say } from "./common.js";

const form = $("#restore-form");
const status = $("#restore-status");

function faceLine(face, i) {
  if (!face.model) return `Face ${i + 1}: left as it is (${face.why ?? "nothing covers it"}).`;
  return `Face ${i + 1}: ${face.hole_pixels} px covered, filled by ${face.model} (${face.why ?? ""}), ` +
    `${face.seconds} s.`;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("#restore-file").files[0];
  if (!file) return say(status, "Choose a photo first.", true);
  const button = $("#restore-run");
  button.disabled = true;
  say(status, "Finding the covering and filling it…");
  try {
    const data = new FormData();
    data.append("file", file);
    data.append("model", $("#restore-model").value);
    data.append("seed", $("#restore-seed").value || "0");
    if ($("#restore-k").value) data.append("smooth_k", $("#restore-k").value);
    const result = await api("/restore", { method: "POST", body: data, query: { format: "json" } });
    for (const name of ["generated", "smoothed", "mask", "result"]) {
      const img = $(`#step-${name}`);
      const link = result.steps[name];
      img.closest("figure").hidden = !link;
      if (link) img.src = link.url;
    }
    $("#restore-note").textContent = `Note: ${result.note}.`;
    $("#restore-faces").textContent = result.faces.length
      ? result.faces.map(faceLine).join(" ")
      : "No face found in this photo.";
    const download = $("#restore-download");
    download.href = result.result.url;
    download.download = `${file.name.replace(/\.[^.]+$/, "")}_restored.png`;
    $("#restore-result").hidden = false;
    say(status, `Done: ${result.filled} face(s) filled in ${result.seconds} s.`);
  } catch (err) {
    say(status, err.message, true);
  } finally {
    button.disabled = false;
  }
});

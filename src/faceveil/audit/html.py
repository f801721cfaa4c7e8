"""A self-contained HTML audit report: thumbnails inline as base64, no scripts, no server."""

from __future__ import annotations

import html

from faceveil.audit.runner import AuditReport

_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right} th{background:#f3f3f3}
td.l,th.l{text-align:left} .bad{background:#fdd} .ok{background:#dfd}
.pair img{max-width:320px;margin-right:8px;border:1px solid #aaa}
.item{margin-bottom:2em} .muted{color:#777}
"""

_SUMMARY_LABELS = {
    "images": "image pairs audited",
    "failed": "inputs that could not be audited",
    "faces": "faces in the originals",
    "re_identified_rate": "re-identified (SFace at or above the threshold)",
    "still_detectable_rate": "still detectable",
    "mean_identity_similarity": "mean identity similarity",
    "max_identity_similarity": "highest identity similarity",
    "max_reid_similarity": "highest identity similarity, original or re-detected alignment",
    "mean_landmark_drift": "mean landmark drift (inter-ocular distances)",
    "mean_age_difference": "mean age difference (years)",
    "same_gender_rate": "same gender",
    "same_emotion_rate": "same emotion",
    "mean_expression_difference": "mean expression difference by the mesh (inter-ocular distances)",
    "mean_ssim_outside": "mean SSIM outside the face regions",
    "min_psnr_outside": "lowest PSNR outside the face regions (dB)",
    "backgrounds_identical": "pairs with a byte-identical background",
    "threshold": "re-identification threshold (SFace cosine)",
    # Present only when the audit ran dlib (--recognizers sface,dlib).
    "dlib_re_identified_rate": "re-identified by dlib (independent recognizer, below threshold)",
    "mean_dlib_distance": "mean dlib distance",
    "min_dlib_distance": "lowest dlib distance",
    "min_reid_dlib_distance": "lowest dlib distance, original or re-detected alignment",
    "dlib_threshold": "dlib re-identification threshold (Euclidean distance)",
}

_FACE_COLUMNS = (
    ("identity_similarity", "identity sim."),
    ("identity_similarity_detected", "sim. (own landmarks)"),
    ("re_identified", "re-identified"),
    ("still_detectable", "detectable"),
    ("landmark_drift", "landmark drift"),
    ("age_difference", "age diff."),
    ("same_gender", "same gender"),
    ("same_emotion", "same emotion"),
    ("expression_difference", "expression diff. (mesh)"),
)
_DLIB_COLUMNS = (
    ("dlib_distance", "dlib distance"),
    ("dlib_distance_detected", "dlib dist. (own box)"),
    ("dlib_re_identified", "re-identified (dlib)"),
)


def _cell(key: str, value) -> str:
    if value is None:
        return '<td class="muted">–</td>'
    css = ""
    if key in ("re_identified", "dlib_re_identified"):
        css = ' class="bad"' if value else ' class="ok"'
    text = ("yes" if value else "no") if isinstance(value, bool) else html.escape(str(value))
    return f"<td{css}>{text}</td>"


def render_html(report: AuditReport, title: str = "faceveil privacy audit") -> str:
    """The report as one HTML page."""
    summary = report.summary()
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        "<h2>Summary</h2><table>",
    ]
    for key, label in _SUMMARY_LABELS.items():
        if key not in summary:
            continue
        value = summary.get(key)
        if isinstance(value, float) and key.endswith("rate"):
            value = f"{value:.1%}"
        out.append(
            f"<tr><th class='l'>{html.escape(label)}</th>"
            f"<td>{'–' if value is None else html.escape(str(value))}</td></tr>"
        )
    out.append("</table>")
    if report.failures:
        out.append("<h2>Not audited</h2><ul>")
        out += [f"<li>{html.escape(f)}</li>" for f in report.failures]
        out.append("</ul>")
    out.append("<h2>Pairs</h2>")
    columns = _FACE_COLUMNS + (_DLIB_COLUMNS if "dlib" in report.recognizers else ())
    for index, item in enumerate(report.items):
        d = item.to_dict()
        out.append(
            f"<div class='item'><h3>{html.escape(d['original'])}<br>"
            f"<span class='muted'>vs {html.escape(d['anonymized'])}</span></h3>"
        )
        if index < len(report.previews):
            a, b = report.previews[index]
            out.append(
                f"<div class='pair'><img alt='original' src='data:image/jpeg;base64,{a}'>"
                f"<img alt='anonymised' src='data:image/jpeg;base64,{b}'></div>"
            )
        psnr = "identical" if d["background_identical"] else f"{d['psnr_outside']} dB"
        out.append(f"<p>Outside the face regions: SSIM {d['ssim_outside']}, PSNR {psnr}.</p>")
        if not d["faces"]:
            out.append("<p class='muted'>No face in the original.</p></div>")
            continue
        out.append(
            "<table><tr><th>#</th><th class='l'>box</th>"
            + "".join(f"<th>{label}</th>" for _, label in columns)
            + "</tr>"
        )
        for i, face in enumerate(d["faces"]):
            box = ", ".join(f"{v:.0f}" for v in face["box"])
            out.append(
                f"<tr><td>{i}</td><td class='l'>{box}</td>"
                + "".join(_cell(k, face.get(k)) for k, _ in columns)
                + "</tr>"
            )
        out.append("</table></div>")
    out.append("</body></html>")
    return "\n".join(out)

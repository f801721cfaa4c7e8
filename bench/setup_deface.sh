#!/usr/bin/env bash
# Install the peer tool deface==1.5.0 (CenterFace face detector) into its own
# venv, bench/.deface-venv, for side-by-side benchmarks. Idempotent and quiet:
# does nothing if the venv already has a working deface with ONNX Runtime.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=bench/.deface-venv
PY="$VENV/bin/python"

if "$VENV/bin/deface" --help >/dev/null 2>&1 &&
   "$PY" -c 'import onnx, onnxruntime' >/dev/null 2>&1; then
    exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
quiet() { "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }; }

quiet python3 -m venv "$VENV"
# deface's CenterFace(backend='auto'), the CLI default, uses ONNX Runtime only
# if BOTH onnx and onnxruntime import; otherwise it silently falls back to the
# slower OpenCV DNN backend. deface itself requires neither, so add both (CPU).
quiet "$PY" -m pip install --disable-pip-version-check \
    "deface==1.5.0" onnx onnxruntime
quiet "$VENV/bin/deface" --help
quiet "$PY" -c 'from deface.centerface import CenterFace; assert CenterFace().backend == "onnxrt"'

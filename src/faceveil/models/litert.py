"""Running TFLite models with ai-edge-litert (no TensorFlow), batched and thread-safe."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def _stderr_silenced():
    """Send file descriptor 2 to /dev/null: LiteRT's C++ core prints an INFO line when it
    creates its XNNPACK delegate, and no setting turns that off."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def litert_interpreter(model_path: str | Path, *, num_threads: int = 1):
    """A LiteRT interpreter with tensors allocated, created without the INFO line.

    One thread is the default: on 2 cores, XNNPACK ran these small networks faster with one
    thread than with two.
    """
    from ai_edge_litert.interpreter import Interpreter

    with _stderr_silenced():
        interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        interpreter.allocate_tensors()
    return interpreter


class LiteRTNet:
    """A TFLite model loaded on first use, whose batch dimension follows each call."""

    def __init__(self, model_path: str | Path, *, num_threads: int = 1):
        self.model_path = str(model_path)
        self.num_threads = num_threads
        self._interpreter: Any = None  # ai_edge_litert has no type information
        self._batch = 0
        self._lock = threading.Lock()

    def prepare(self):
        """Load the interpreter (once)."""
        with self._lock:
            if self._interpreter is None:
                self._interpreter = litert_interpreter(
                    self.model_path, num_threads=self.num_threads
                )
                self._batch = 1
        return self

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Every output tensor, copied, for the batch `x` (float32, batch first)."""
        self.prepare()
        with self._lock:
            it = self._interpreter
            inp = it.get_input_details()[0]
            if self._batch != len(x):
                it.resize_tensor_input(inp["index"], list(x.shape))
                it.allocate_tensors()
                self._batch = len(x)
            it.set_tensor(inp["index"], np.ascontiguousarray(x, np.float32))
            it.invoke()
            return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]

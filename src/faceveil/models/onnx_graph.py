"""Loading ONNX detectors into ONNX Runtime: the shipped files need small rewrites first.

CenterFace fixes its input at 32x32 and lists its weights as graph inputs; YuNet's int8 file
stores block-quantized weights in a form that ONNX Runtime refuses. Both are rewritten in memory
on load (the files are never changed): free spatial dimensions, weights as plain fp32
constants. ONNX Runtime then runs them several times faster than OpenCV's DNN module. The rewritten
graph is cached (:func:`faceveil.io.cache.cache_dir`): the ``onnx`` package takes over a second
to import, which a short run should not pay twice.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

from faceveil.io.cache import cache_dir, store

if TYPE_CHECKING:
    import onnx

REWRITE_VERSION = 1  # bump when the rewrite changes: older cached graphs are then ignored


def _dequantized(node: onnx.NodeProto, weights: dict[str, onnx.TensorProto]) -> np.ndarray:
    """The fp32 value of a DequantizeLinear node over constants: (x - zero) * scale."""
    from onnx import helper, numpy_helper

    x, scale, *zero = (numpy_helper.to_array(weights[name]) for name in node.input if name)
    x, scale = x.astype(np.float32), scale.astype(np.float32)
    zero_point = zero[0].astype(np.float32) if zero else np.zeros_like(scale)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if scale.size == 1:
        return (x - zero_point.reshape(())) * scale.reshape(())
    axis, block = attrs.get("axis", 1) % x.ndim, attrs.get("block_size", 0)
    if block:  # one scale per block of `block` values along `axis`
        scale, zero_point = (np.repeat(v, block, axis=axis) for v in (scale, zero_point))
        cut = [slice(None)] * x.ndim
        cut[axis] = slice(0, x.shape[axis])
        return (x - zero_point[tuple(cut)]) * scale[tuple(cut)]
    shape = [1] * x.ndim
    shape[axis] = -1
    return (x - zero_point.reshape(shape)) * scale.reshape(shape)


def _fold_dequantize(model: onnx.ModelProto) -> None:
    from onnx import numpy_helper

    weights = {t.name: t for t in model.graph.initializer}
    kept, folded = [], []
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and all(i in weights for i in node.input if i):
            folded.append(numpy_helper.from_array(_dequantized(node, weights), node.output[0]))
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    model.graph.initializer.extend(folded)


def _free_dims(model: onnx.ModelProto, axes: dict[int, str], outputs: dict[int, str]) -> None:
    """Weights out of the graph inputs; named free dimensions on the input and outputs."""
    weights = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    for tensors, names in ((model.graph.input, axes), (model.graph.output, outputs)):
        for tensor in tensors:
            dims = tensor.type.tensor_type.shape.dim
            for axis, name in names.items():
                dims[axis].dim_param = name


def rewritten(model_path: Path, inputs: dict[int, str], outputs: dict[int, str]) -> bytes:
    """The model with plain fp32 weights and the named axes free."""
    import onnx

    model = onnx.load(str(model_path))
    _fold_dequantize(model)
    _free_dims(model, inputs, outputs)
    return model.SerializeToString()


def _cached(
    model_path: Path, inputs: dict[int, str], outputs: dict[int, str], refresh: bool = False
) -> bytes:
    data = model_path.read_bytes()
    key = hashlib.sha256(data + repr((inputs, outputs, REWRITE_VERSION)).encode()).hexdigest()
    path = cache_dir() / "onnx" / f"{model_path.stem}-{key[:16]}.onnx"
    if path.is_file() and not refresh:
        return path.read_bytes()
    graph = rewritten(model_path, inputs, outputs)
    store(path, graph)
    return graph


def session(
    model_path: str | Path, inputs: dict[int, str], outputs: dict[int, str], threads: int = 0
) -> ort.InferenceSession:
    """An ONNX Runtime session on the rewritten model: `inputs` and `outputs` name the axes
    (of the input and of every output) that become free; `threads` per call, 0 for one per
    core."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the rewritten graph's shape notes are expected
    # Spinning threads would starve the decoder, encoder and OpenCV running beside them.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = threads
    model_path = Path(model_path)
    try:
        graph = _cached(model_path, inputs, outputs)
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001  (ONNX Runtime's errors share no base) a damaged cache
        graph = _cached(model_path, inputs, outputs, refresh=True)
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

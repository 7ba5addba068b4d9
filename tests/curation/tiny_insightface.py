"""Tiny ONNX stand-ins for insightface's buffalo_l SCRFD detector and ArcFace recogniser.

They have the real input/output signatures, so insightface's own loading, routing, inference
and decoding code runs on them. The detector fires where the input is white on the stride-32
grid: a white 32x32 cell at (col, row) gives one face of 128x128 px centred on (32*col,
32*row) of the 640x640 detector input, with fixed five landmarks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

STRIDES = (8, 16, 32)
# Landmark offsets in stride units from the anchor point: eyes, nose, mouth corners.
KPS_OFFSETS = [(-0.6, -0.4), (0.6, -0.4), (0.0, 0.1), (-0.5, 0.6), (0.5, 0.6)]


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def build_scrfd(path: Path, size: int = 640) -> Path:
    nodes, inits, outs = [], [], {"score": [], "bbox": [], "kps": []}
    for s in STRIDES:
        cells = (size // s) ** 2 * 2
        nodes.append(
            helper.make_node(
                "AveragePool", ["input.1"], [f"pool{s}"], kernel_shape=[s, s], strides=[s, s]
            )
        )
        fire = s == 32
        w_score = np.full((2, 3, 1, 1), 10.0 / 3 if fire else 0.0)
        b_score = np.full((2,), -5.0 if fire else -10.0)
        w_kps = np.zeros((20, 3, 1, 1))
        b_kps = np.array([v for _ in range(2) for pt in KPS_OFFSETS for v in pt])
        for kind, width, w, b in (
            ("score", 1, w_score, b_score),
            ("bbox", 4, np.zeros((8, 3, 1, 1)), np.full((8,), 2.0)),
            ("kps", 10, w_kps, b_kps),
        ):
            inits += [_init(f"w_{kind}{s}", w), _init(f"b_{kind}{s}", b)]
            nodes.append(
                helper.make_node(
                    "Conv", [f"pool{s}", f"w_{kind}{s}", f"b_{kind}{s}"], [f"c_{kind}{s}"]
                )
            )
            src = f"c_{kind}{s}"
            if kind == "score":
                nodes.append(helper.make_node("Sigmoid", [src], [f"sig{s}"]))
                src = f"sig{s}"
            nodes.append(helper.make_node("Transpose", [src], [f"t_{kind}{s}"], perm=[0, 2, 3, 1]))
            inits.append(
                numpy_helper.from_array(np.array([-1, width], dtype=np.int64), f"shape_{kind}{s}")
            )
            nodes.append(
                helper.make_node("Reshape", [f"t_{kind}{s}", f"shape_{kind}{s}"], [f"{kind}_{s}"])
            )
            outs[kind].append(
                helper.make_tensor_value_info(f"{kind}_{s}", TensorProto.FLOAT, [cells, width])
            )
    graph = helper.make_graph(
        nodes,
        "tiny_scrfd",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, size, size])],
        outs["score"] + outs["bbox"] + outs["kps"],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def build_arcface(path: Path, seed: int = 0, dim: int = 512) -> Path:
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((3 * 14 * 14, dim)).astype(np.float32)
    nodes = [
        helper.make_node("AveragePool", ["data"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "proj"], ["fc1"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_arcface",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, dim])],
        [_init("proj", weight)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def build_buffalo(root: Path, pack: str = "buffalo_l") -> Path:
    """``<root>/models/<pack>/`` with the two tiny models, where insightface looks."""
    folder = root / "models" / pack
    folder.mkdir(parents=True, exist_ok=True)
    build_scrfd(folder / "det_10g.onnx")
    build_arcface(folder / "w600k_r50.onnx")
    return folder

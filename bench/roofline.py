"""The roofline of `make bench`: what this machine's GEMMs allow each tier, and where the rest of the time goes.

- GEMM peaks per engine and weight type, measured here: one 1024 x 1024 x 4096 product and each model's own
  linear shapes (M = 1024 tokens, embed's batch), best of several runs.
- FLOPs per token of each model at the FASTA's real (unpadded) lengths: the linears (q/k/v, output, the
  feed-forward, the LM head, which ONNX Runtime computes on every run) and attention (QK^T and PV,
  4 T d per layer and token, T the record's tokens).
- The roofline of a tier: every record's linears at that tier's measured peak for their shapes, attention at
  the engine's fp32 peak, everything else free. A tier's fraction is its whole-process tokens/s (the main
  table's) over what the roofline allows on the same FASTA.
- The profile: each op's share of kernel time over the FASTA's real batches (embed's batching), by op class,
  from ONNX Runtime's profiler and OpenVINO's performance counters.
"""
from __future__ import annotations

import collections
import json
import pathlib
import tempfile
import time

import numpy as np

# One output's weights, [K, N], and how many of them a layer holds.
Shape = tuple[str, int, int]


def esmc_hidden(dim: int) -> int:
    """ESM C's SwiGLU width: 8/3 of the model width, rounded up to a multiple of 256."""
    return ((dim * 8 // 3) + 255) // 256 * 256


def linear_shapes(family: str, dim: int) -> list[Shape]:
    """The linears of one layer as (role, K, N)."""
    if family == "esmc":
        h = esmc_hidden(dim)
        return [("q/k/v", dim, 3 * dim), ("output", dim, dim), ("gate+up", dim, 2 * h), ("down", h, dim)]
    return [("q/k/v", dim, 3 * dim), ("output", dim, dim), ("fc1", dim, 4 * dim), ("fc2", 4 * dim, dim)]


def head_shapes(dim: int, vocab: int) -> list[Shape]:
    return [("lm dense", dim, dim), ("lm out", dim, vocab)]


def linear_flops_per_token(family: str, layers: int, dim: int, vocab: int) -> float:
    return 2.0 * (layers * sum(k * n for _, k, n in linear_shapes(family, dim)) + sum(k * n for _, k, n in head_shapes(dim, vocab)))


def attention_flops_per_token(layers: int, dim: int, tokens: int) -> float:
    return 4.0 * layers * tokens * dim


# ---------------------------------------------------------------------------------------------- GEMM peaks
ENGINES = {
    # label -> (engine, weights, compute): the tiers whose linears run this way.
    "ONNX Runtime fp32 (MatMul)": ("ort", "fp32", "fp32"),
    "ONNX Runtime int8 (DynamicQuantizeMatMul)": ("ort", "int8", "fp32"),
    "ONNX Runtime int4 (MatMulNBits, int8 compute)": ("ort", "int4", "fp32"),
    "OpenVINO fp32": ("openvino", "fp32", "fp32"),
    "OpenVINO bf16": ("openvino", "fp32", "bf16"),
    "OpenVINO int8 weights (bf16)": ("openvino", "int8", "bf16"),
}
# Which peak each benchmark row's linears run at.
TIER_ENGINE = {"esm-onnx fp32": "ONNX Runtime fp32 (MatMul)", "esm-onnx int8": "ONNX Runtime int8 (DynamicQuantizeMatMul)",
               "esm-onnx int4": "ONNX Runtime int4 (MatMulNBits, int8 compute)", "esm-onnx OpenVINO fp32": "OpenVINO fp32",
               "esm-onnx OpenVINO bf16": "OpenVINO bf16", "esm-onnx OpenVINO int8 (bf16)": "OpenVINO int8 weights (bf16)",
               # the fp32 peers against the same fp32 roofline: how much room any engine has over them
               "fair-esm (torch)": "ONNX Runtime fp32 (MatMul)", "transformers ESM C (torch)": "ONNX Runtime fp32 (MatMul)"}
# Attention's peak on each engine (its fp32 GEMM's).
ATTENTION_ENGINE = {"ort": "ONNX Runtime fp32 (MatMul)", "openvino": "OpenVINO fp32"}


def _gemm_model(weights: str, m: int, k: int, n: int, microsoft: bool):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((k, n)).astype(np.float32)
    inits, nodes = [], []
    if weights == "fp32":
        inits.append(numpy_helper.from_array(w, "w"))
        nodes.append(helper.make_node("MatMul", ["a", "w"], ["y"]))
    elif weights == "int8":
        scale = np.abs(w).max(0) / 127
        q = np.round(w / scale).astype(np.int8)
        inits += [numpy_helper.from_array(q, "wq"), numpy_helper.from_array(scale.astype(np.float32), "ws"),
                  numpy_helper.from_array(np.zeros(n, np.int8), "wz")]
        if microsoft:
            nodes.append(helper.make_node("DynamicQuantizeMatMul", ["a", "wq", "ws", "wz"], ["y"], domain="com.microsoft"))
        else:  # OpenVINO runs DequantizeLinear + MatMul as compressed weights
            nodes += [helper.make_node("DequantizeLinear", ["wq", "ws"], ["w"], axis=1), helper.make_node("MatMul", ["a", "w"], ["y"])]
    elif weights == "int4":
        block = 128
        blocks = (k + block - 1) // block  # MatMulNBits pads K to whole blocks
        packed = rng.integers(0, 256, (n, blocks, block // 2), dtype=np.uint8)
        inits += [numpy_helper.from_array(packed, "wq"), numpy_helper.from_array(np.full(n * blocks, 0.01, np.float32), "ws"),
                  numpy_helper.from_array(np.full(n * ((blocks + 1) // 2), 0x88, np.uint8), "wz")]
        nodes.append(helper.make_node("MatMulNBits", ["a", "wq", "ws", "wz"], ["y"], domain="com.microsoft", K=k, N=n, bits=4,
                                      block_size=block, accuracy_level=4))
    g = helper.make_graph(nodes, "gemm", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], inits)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.microsoft", 1)] if microsoft else [])
    return helper.make_model(g, opset_imports=opsets)


def _best_seconds(run, reps: int = 8) -> float:
    run()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_peak(label: str, m: int, k: int, n: int, threads: int) -> float:
    """GFLOP/s (GOP/s for integer kernels) of one [m, k] x [k, n] product on `label`'s engine."""
    engine, weights, compute = ENGINES[label]
    a = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
    if engine == "ort":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.log_severity_level = 3
        sess = ort.InferenceSession(_gemm_model(weights, m, k, n, True).SerializeToString(), so, providers=["CPUExecutionProvider"])
        secs = _best_seconds(lambda: sess.run(None, {"a": a}))
    else:
        import openvino as ov

        with tempfile.TemporaryDirectory() as d:
            path = pathlib.Path(d) / "gemm.onnx"
            path.write_bytes(_gemm_model(weights, m, k, n, False).SerializeToString())
            core = ov.Core()
            compiled = core.compile_model(core.read_model(str(path)), "CPU", {
                "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "bf16" if compute == "bf16" else "f32"})
            req = compiled.create_infer_request()
            secs = _best_seconds(lambda: req.infer({0: a}))
    return 2.0 * m * k * n / secs / 1e9


def measure_peaks(models: dict[str, tuple[str, int, int, int]], engines: list[str], threads: int, log) -> dict:
    """{engine: {"square": GFLOP/s, "<K>x<N>": GFLOP/s, ...}} for the reference shape and every model's linears."""
    shapes = {(1024, 4096)}
    for family, _, dim, vocab in models.values():
        shapes.update((k, n) for _, k, n in linear_shapes(family, dim) + head_shapes(dim, vocab))
    peaks = {}
    for label in engines:
        row = {"square": gemm_peak(label, 1024, 1024, 4096, threads)}
        for k, n in sorted(shapes - {(1024, 4096)}):
            row[f"{k}x{n}"] = gemm_peak(label, 1024, k, n, threads)
        peaks[label] = row
        log(f"GEMM peak, {label}: {row['square']:.0f} GFLOP/s (1024 x 1024 x 4096)")
    return peaks


def roofline_seconds(family: str, layers: int, dim: int, vocab: int, lengths: list[int], peaks: dict, linear_engine: str,
                     attention_engine: str) -> tuple[float, float]:
    """(linear seconds, attention seconds) the roofline allows for records of these residue counts."""
    lin = peaks[linear_engine]
    att = peaks[attention_engine]["square"] * 1e9

    def at(k, n):
        return lin.get(f"{k}x{n}", lin["square"]) * 1e9

    per_token = layers * sum(2.0 * k * n / at(k, n) for _, k, n in linear_shapes(family, dim))
    per_token += sum(2.0 * k * n / at(k, n) for _, k, n in head_shapes(dim, vocab))
    tokens = [n + 2 for n in lengths]
    return per_token * sum(tokens), sum(t * attention_flops_per_token(layers, dim, t) for t in tokens) / att


def fractions(name: str, spec: tuple[str, int, int, int], lengths: list[int], runs: dict, peaks: dict) -> list[dict]:
    """Each measured tier's tokens/s against the roofline of its engine on the same FASTA."""
    family, layers, dim, vocab = spec
    residues = sum(lengths)
    rows = []
    for label, r in runs.items():
        engine = TIER_ENGINE.get(label)
        if engine not in peaks:
            continue
        att_engine = ATTENTION_ENGINE[ENGINES[engine][0]]
        lin_s, att_s = roofline_seconds(family, layers, dim, vocab, lengths, peaks, engine, att_engine)
        allowed = residues / (lin_s + att_s)
        rows.append({"model": name, "tier": label, "tokens_per_s": r["tokens_per_s"], "roofline": allowed,
                     "fraction": r["tokens_per_s"] / allowed, "linear_share": lin_s / (lin_s + att_s)})
    return rows


# ----------------------------------------------------------------------------------------------- profiles
ORT_CLASSES = {
    "linears": {"MatMul", "FusedMatMul", "Gemm", "DynamicQuantizeMatMul", "MatMulNBits", "MatMulIntegerToFloat"},
    "attention": {"MultiHeadAttention", "Attention", "Softmax"},
    "norms": {"LayerNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization"},
    "activations": {"Gelu", "BiasGelu", "FastGelu", "QuickGelu", "Sigmoid", "Erf", "Tanh"},
    "rotary": {"RotaryEmbedding"},
    "elementwise": {"Add", "Mul", "Div", "Sub", "Where", "Neg"},
}


def _class_of(op: str, table: dict[str, set[str]]) -> str:
    return next((c for c, ops in table.items() if op in ops), "data movement and other")


def batches(lengths: list[int], toks_per_batch: int = 1024, alone_from: int = 0) -> list[list[int]]:
    """embed's batching: by length, max_len * count <= toks_per_batch; with alone_from, a record of that many
    tokens or more alone (embed does so with the fused layers on ONNX Runtime's CPU: 128)."""
    out, buf, longest = [], [], 0
    for n in sorted(lengths):
        size = n + 2
        if buf and ((alone_from and size >= alone_from) or max(size, longest) * (len(buf) + 1) > toks_per_batch):
            out.append(buf)
            buf, longest = [], 0
        buf.append(n)
        longest = max(longest, size)
    return out + ([buf] if buf else [])


def _tokens(batch: list[int], rng) -> np.ndarray:
    """An ESM-2 batch: BOS, residues, EOS, right padding."""
    t = max(batch) + 2
    toks = np.ones((len(batch), t), np.int64)
    for i, n in enumerate(batch):
        toks[i, 0], toks[i, 1:n + 1], toks[i, n + 1] = 0, rng.integers(4, 24, n), 2
    return toks


def fasta_flops(spec: tuple[str, int, int, int], lengths: list[int]) -> dict[str, float]:
    """The linears' and attention's FLOPs of one pass over records of these residue counts."""
    family, layers, dim, vocab = spec
    tokens = [n + 2 for n in lengths]
    return {"linears": linear_flops_per_token(family, layers, dim, vocab) * sum(tokens),
            "attention": sum(t * attention_flops_per_token(layers, dim, t) for t in tokens)}


# embed's kAloneFromTokens (src/engines/runtime/embed_stream.cpp), for the fused graphs on ONNX Runtime's CPU.
EMBED_ALONE_FROM_TOKENS = 128


def profile_ort(model: pathlib.Path, lengths: list[int], threads: int, flops: dict | None = None) -> dict:
    """Kernel time by op class over the FASTA's batches (one warm-up pass first)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    so.enable_profiling = True
    so.profile_file_prefix = str(model.parent / f"profile_{model.stem}")
    sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = [_tokens(b, rng) for b in batches(lengths, alone_from=EMBED_ALONE_FROM_TOKENS)]
    sess.run(["representations"], {"tokens": feeds[-1]})
    t0 = time.perf_counter()
    for toks in feeds:
        sess.run(["representations"], {"tokens": toks})
    wall = time.perf_counter() - t0
    events = json.loads(pathlib.Path(sess.end_profiling()).read_text())
    by_op = collections.Counter()
    for e in events:
        # If nodes hold the attention ops, which appear on their own: counted once.
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["args"]["op_name"] != "If":
            by_op[e["args"]["op_name"]] += e["dur"]
    # The warm-up run's events are in the file too: shares are unaffected, times are scaled to the timed pass.
    return _summary(by_op, ORT_CLASSES, wall, sum(lengths), flops)


OV_CLASSES = {
    "linears": {"FullyConnected"},
    "attention": {"Softmax", "ScaledDotProductAttention", "ScaledAttn"},
    "norms": {"MVN", "RMS", "LayerNorm"},
    "rotary": {"RoPE"},
    "elementwise": {"Eltwise", "Multiply", "Add", "Subtract", "Divide", "PowerStatic", "Power", "Select"},
}


def profile_openvino(model: pathlib.Path, lengths: list[int], threads: int, compute: str, flops: dict | None = None) -> dict:
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(model)), "CPU", {
        "INFERENCE_NUM_THREADS": threads, "PERF_COUNT": "YES", "INFERENCE_PRECISION_HINT": "bf16" if compute == "bf16" else "f32"})
    req = compiled.create_infer_request()
    rng = np.random.default_rng(0)
    feeds = [_tokens(b, rng) for b in batches(lengths)]
    req.infer({"tokens": feeds[-1]})
    by_op, wall = collections.Counter(), 0.0
    for toks in feeds:
        t0 = time.perf_counter()
        req.infer({"tokens": toks})
        wall += time.perf_counter() - t0
        for p in req.profiling_info:
            if p.status == p.Status.EXECUTED:
                # The explicit graph's attention products are MatMul nodes named after their role.
                op = p.node_type
                # OpenVINO fuses each layer's scores, mask, softmax and context into one Subgraph (or leaves
                # MatMul and Softmax): named after our attention block's nodes
                if op in ("Subgraph", "MatMul", "Softmax") and "/attn/" in p.node_name and "/attn/" + "attn_out" not in p.node_name:
                    op = "Softmax"
                elif op == "MatMul":
                    op = "FullyConnected"
                elif op == "Subgraph":
                    op = "Eltwise"
                elif op == "Eltwise" and "gelu" in p.exec_type.lower():
                    op = "Gelu"
                by_op[op] += p.real_time.total_seconds() * 1e6
    classes = dict(OV_CLASSES, activations={"Gelu"})
    return _summary(by_op, classes, wall, sum(lengths), flops)


def _summary(by_op: collections.Counter, classes: dict, wall: float, residues: int, flops: dict | None) -> dict:
    total = sum(by_op.values()) or 1.0
    share = collections.Counter()
    for op, us in by_op.items():
        share[_class_of(op, classes)] += us / total
    # What the linears and attention achieved: their FLOPs over their share of the timed pass.
    achieved = {c: f / (share[c] * wall) / 1e9 for c, f in (flops or {}).items() if share[c] > 0}
    return {"wall_s": wall, "tokens_per_s": residues / wall, "classes": dict(share), "achieved_gflops": achieved,
            "top_ops": [(op, us / total) for op, us in by_op.most_common(6)]}


# ------------------------------------------------------------------------------------------------ report
CLASS_ORDER = ["linears", "attention", "norms", "activations", "rotary", "elementwise", "data movement and other"]


def section(data: dict, threads: int) -> list[str]:
    peaks, rows, profiles = data["peaks"], data["fractions"], data.get("profiles", {})
    lines = ["## Roofline: each tier against what this machine's GEMMs allow", "",
             f"Measured in the same invocation ({threads} threads; `bench/roofline.py`). The roofline of a tier: every "
             "record's linears (q/k/v, output, feed-forward, LM head) at that tier's measured GEMM peak for their "
             "own shapes, attention (4 T d FLOPs a token and layer at the record's real length) at the engine's "
             "fp32 peak, everything else free; a tier's fraction is its whole-process tokens/s from the tables above "
             "on the same FASTA. " + data.get("bf16_note", ""), "",
             f"![fraction of the roofline]({data['plot']})", "",
             "| model | tier | tokens/s | roofline tokens/s | fraction | linears' share of the roofline |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['tier']} | {r['tokens_per_s']:.0f} | {r['roofline']:.0f} | {100 * r['fraction']:.0f}% | "
              f"{100 * r['linear_share']:.0f}% |" for r in rows]
    shapes = sorted({s for row in peaks.values() for s in row if s != "square"}, key=lambda s: tuple(map(int, s.split("x"))))
    lines += ["", "GEMM peaks (GFLOP/s, GOP/s for the integer kernels; M = 1024 tokens; K x N):", "",
              "| engine | 1024 x 4096 | " + " | ".join(shapes) + " |", "|---|---:|" + "---:|" * len(shapes)]
    for label, row in peaks.items():
        lines.append(f"| {label} | {row['square']:.0f} | " + " | ".join(f"{row[s]:.0f}" if s in row else "" for s in shapes) + " |")
    if profiles:
        lines += ["", "Where the time goes: share of kernel time by op class over the FASTA's own batches (embed's "
                  "batching: 1024-token batches, records of 128 tokens or more alone on ONNX Runtime; ONNX Runtime's profiler, OpenVINO's performance counters), and the engine's "
                  "tokens/s in that pass (inference only):", "",
                  "| model | run | tokens/s | " + " | ".join(CLASS_ORDER) + " | linears GFLOP/s | attention GFLOP/s | top ops |",
                  "|---|---|---:|" + "---:|" * len(CLASS_ORDER) + "---:|---:|---|"]
        for key, p in profiles.items():
            model, run = key.split(" / ", 1)
            top = ", ".join(f"{op} {100 * s:.0f}%" for op, s in p["top_ops"][:4])
            ach = p.get("achieved_gflops", {})
            lines.append(f"| {model} | {run} | {p['tokens_per_s']:.0f} | " +
                         " | ".join(f"{100 * p['classes'].get(c, 0):.1f}%" for c in CLASS_ORDER) +
                         f" | {ach.get('linears', 0):.0f} | {ach.get('attention', 0):.0f} | {top} |")
    lines.append("")
    return lines


def plot(rows: list[dict], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in rows))
    tiers = list(dict.fromkeys(r["tier"] for r in rows))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(1, len(tiers))
    for j, tier in enumerate(tiers):
        xs = [i + j * width for i, m in enumerate(models) if any(r["model"] == m and r["tier"] == tier for r in rows)]
        ys = [100 * r["fraction"] for m in models for r in rows if r["model"] == m and r["tier"] == tier]
        ax.bar(xs, ys, width, label=tier.replace("esm-onnx ", ""))
    ax.axhline(70, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(models))], models)
    ax.set_ylabel("% of the roofline (whole process)")
    ax.set_ylim(0, 100)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def print_fractions(rows: list[dict], log) -> None:
    for r in rows:
        log(f"roofline {r['model']} {r['tier']}: {r['tokens_per_s']:.0f} of {r['roofline']:.0f} tokens/s = {100 * r['fraction']:.0f}%")

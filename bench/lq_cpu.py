"""Benchmark: the thesis' LQ table on its 2-layer MLP (784-660-10), bitwise CPU kernel vs fp32.

Per row (fp32 numpy/BLAS, fp32 compiled loop, LQ int3 / int2 / int1 with K_x = K_w = K on every
kernel path this CPU runs: portable / popcnt / avx2 / avx512): time per inference at batch 1 and
batch 64 on the same random inputs of the thesis' shape (all rows in one run, the rows interleaved
in every round, median of ``--repeats`` rounds), the ratio to numpy fp32 from the same run, weight memory, and accuracy of the same architecture on digits (64
inputs) after post-training QEM (bases fitted on the float model's weights and on its real
activations; no retraining) and after LQ QAT (STE from the QEM start). Prints a Markdown table with the speed-up ratios next to the
thesis' (fp32/int3 3.8x, fp32/int2 6.9x, fp32/int1 13x against the compiled fp32 loop) and
writes JSON + a plot. ``--no-accuracy`` times only (no TensorFlow training).

    .venv/bin/python bench/lq_cpu.py [--hidden 660] [--repeats 200] [--out bench/results] [--no-accuracy]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

THESIS = {  # fp32 / int3 / int2 / int1: time (us), size, post-training accuracy (%)
    "fp32": (584.8, "2.1 MB", 97.19), 3: (152.7, "218 KB", 95.59), 2: (84.8, "147 KB", 88.86), 1: (44.8, "76 KB", 75.11),
}


def median_times(rows: dict, repeats: int) -> dict:
    """Median seconds per call of each row; every round times every row once (so drift hits all rows alike)."""
    for fn in rows.values():
        fn()
    samples = {name: [] for name in rows}
    for _ in range(repeats):
        for name, fn in rows.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: float(np.median(v)) for name, v in samples.items()}


class LQMLP:
    """Two LQ dense layers with a ReLU between them, on the compiled kernel (post-training QEM:
    per-output weight bases, per-layer activation bases with an offset folded into the bias)."""

    def __init__(self, w1, b1, w2, b2, x_calib, k: int, qem_iters: int = 10, path: str | None = None):
        from flow.lq import reference as R
        from flow.lq.cpu import LQDense, LQSequential

        hidden = np.maximum(x_calib @ w1 + b1, 0)
        a1, c1 = R.qem_fit(x_calib, k, qem_iters, offset=True)
        a2, c2 = R.qem_fit(hidden, k, qem_iters, offset=True)
        self.l1 = LQDense.from_kernel(w1, b1, R.on_grid(a1), R.on_grid(R.qem_fit_channels(w1, k, qem_iters)), c1, path=path)
        self.l2 = LQDense.from_kernel(w2, b2, R.on_grid(a2), R.on_grid(R.qem_fit_channels(w2, k, qem_iters)), c2, path=path)
        self.net = LQSequential([self.l1, self.l2], path=path)  # both layers and the ReLU in one compiled call

    def __call__(self, x):
        return self.net(x)

    def weight_bytes(self) -> int:
        return self.l1.weight_bytes() + self.l2.weight_bytes()


def float_weights(n_in: int, hidden: int, rng):
    w1 = rng.normal(0, 1 / np.sqrt(n_in), (n_in, hidden)).astype(np.float32)
    w2 = rng.normal(0, 1 / np.sqrt(hidden), (hidden, 10)).astype(np.float32)
    return w1, np.zeros(hidden, np.float32), w2, np.zeros(10, np.float32)


def onnx_mlp(w1, b1, w2, b2, calib, int8: bool) -> bytes:
    """The same 784-660-10 MLP as an ONNX graph built with the ``onnx`` helper API. fp32: MatMul, Add,
    Relu, MatMul, Add. int8: static quantization of the same float weights, symmetric int8 per output
    column, uint8 activations with scales from ``calib`` (inputs and hidden layer, zero point 0: both
    are >= 0), ``MatMulInteger`` (uint8 x int8 -> int32), then Cast, the per-column rescale, bias, ReLU."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    init, nodes = [], []

    def const(name, value):
        init.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    if not int8:
        nodes += [helper.make_node("MatMul", ["x", const("w1", w1)], ["m1"]), helper.make_node("Add", ["m1", const("b1", b1)], ["a1"]),
                  helper.make_node("Relu", ["a1"], ["h"]), helper.make_node("MatMul", ["h", const("w2", w2)], ["m2"]),
                  helper.make_node("Add", ["m2", const("b2", b2)], ["y"])]
    else:
        hidden = np.maximum(calib @ w1 + b1, 0)

        def layer(inp, w, b, act_max, tag, relu):
            s_in = np.float32(act_max / 255)
            s_w = (np.abs(w).max(axis=0) / 127).astype(np.float32)
            wq = np.clip(np.round(w / s_w), -127, 127).astype(np.int8)
            nodes.extend([
                helper.make_node("QuantizeLinear", [inp, const(f"s{tag}", s_in), const(f"z{tag}", np.uint8(0))], [f"q{tag}"]),
                helper.make_node("MatMulInteger", [f"q{tag}", const(f"w{tag}", wq), f"z{tag}", const(f"wz{tag}", np.int8(0))],
                                 [f"i{tag}"]),
                helper.make_node("Cast", [f"i{tag}"], [f"f{tag}"], to=TensorProto.FLOAT),
                helper.make_node("Mul", [f"f{tag}", const(f"r{tag}", (s_in * s_w).astype(np.float32))], [f"m{tag}"]),
                helper.make_node("Add", [f"m{tag}", const(f"b{tag}", b)], [f"a{tag}" if relu else "y"]),
            ])
            if relu:
                nodes.append(helper.make_node("Relu", [f"a{tag}"], ["h"]))

        layer("x", w1, b1, float(calib.max()), "1", True)
        layer("h", w2, b2, float(np.percentile(hidden, 99.99)), "2", False)
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, w1.shape[0]])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, w2.shape[1]])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnxruntime_rows(w1, b1, w2, b2, calib):
    """``{name: session}`` for onnxruntime fp32 and int8 on one thread (intra- and inter-op), or a reason string."""
    try:
        import onnx  # noqa: F401
        import onnxruntime as ort
    except ImportError as exc:
        return f"onnxruntime rows skipped: {exc} (pip install -r bench/requirements-bench.txt)"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return {f"onnxruntime {name}": ort.InferenceSession(onnx_mlp(w1, b1, w2, b2, calib, name == "int8"), opts,
                                                        providers=["CPUExecutionProvider"])
            for name in ("fp32", "int8")}


def larq_model(w1, w2):
    """larq-compute-engine's binary model of the same shape: the MLP as 1x1 binary convolutions (LCE
    optimizes ``QuantConv2D``, not ``QuantDense``), inputs and kernels binarized by ``ste_sign`` (the
    kernels: the signs of the same float weights), a BatchNormalization after each (folded by the
    converter). Converted by ``lce.convert_keras_model``; an LCE ``Interpreter`` on one thread, or a reason."""
    try:
        import larq as lq
        import larq_compute_engine as lce
        import tensorflow as tf
        from larq_compute_engine.tflite.python.interpreter import Interpreter
    except ImportError as exc:
        return f"larq-compute-engine row skipped: {exc} (pip install -r bench/requirements-bench.txt)"
    kw = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=False)
    inp = tf.keras.Input((w1.shape[0],))
    h = tf.keras.layers.Reshape((1, 1, w1.shape[0]))(inp)
    c1 = lq.layers.QuantConv2D(w1.shape[1], 1, **kw)
    c2 = lq.layers.QuantConv2D(w2.shape[1], 1, **kw)
    h = tf.keras.layers.BatchNormalization()(c1(h))
    h = tf.keras.layers.BatchNormalization()(c2(h))
    model = tf.keras.Model(inp, tf.keras.layers.Reshape((w2.shape[1],))(h))
    c1.set_weights([w1.reshape(1, 1, *w1.shape)])
    c2.set_weights([w2.reshape(1, 1, *w2.shape)])
    interpreter = Interpreter(lce.convert_keras_model(model), num_threads=1)
    probe = np.random.default_rng(1).uniform(-1, 1, (4, w1.shape[0])).astype(np.float32)
    interpreter.check = float(np.abs(interpreter.predict(probe) - model(probe).numpy()).max())  # converted == Keras
    return interpreter


def timings(hidden: int, repeats: int, ks, threads: int = 2) -> dict:
    """Seconds per inference per row and batch; ``LQ int{k}`` is the default (best) path, ``LQ int{k} {path}``
    each path. Models are built once (same weights and bases for every path) and every path's output is
    checked equal to the default path's before timing."""
    from flow.lq.cpu import LQDense, LQSequential, available_paths, fp32_dense

    rng = np.random.default_rng(0)
    w1, b1, w2, b2 = float_weights(784, hidden, rng)
    w1t, w2t = np.ascontiguousarray(w1.T), np.ascontiguousarray(w2.T)
    calib = rng.uniform(0, 1, (256, 784)).astype(np.float32)
    paths = available_paths()
    models = {}
    for k in ks:
        base = LQMLP(w1, b1, w2, b2, calib, k, qem_iters=5)
        for path in paths:
            layers = [LQDense(l.x_basis, l.w_basis, l.w_planes, l.bias, l.n, l.x_offset, path) for l in (base.l1, base.l2)]
            models[(k, path)] = LQSequential(layers, path=path)
        models[(k, "threads")] = LQSequential(models[(k, paths[0])].layers, path=paths[0], threads=threads)
    ort = onnxruntime_rows(w1, b1, w2, b2, calib)
    lce = larq_model(w1, w2)
    skipped = [r for r in (ort, lce) if isinstance(r, str)]
    for reason in skipped:
        print(reason)
    out = {"paths": paths, "threads": threads, "bytes": {}, "skipped": skipped, "peers": []}
    if not isinstance(ort, str):
        out["peers"] += list(ort)
        y32 = ort["onnxruntime fp32"].run(None, {"x": calib})[0]
        y8 = ort["onnxruntime int8"].run(None, {"x": calib})[0]
        ref = np.maximum(calib @ w1 + b1, 0) @ w2 + b2
        out["onnx_check"] = {"fp32_max_abs_diff_vs_numpy": float(np.abs(y32 - ref).max()),
                             "int8_argmax_agreement_vs_fp32": float(np.mean(y8.argmax(1) == ref.argmax(1))),
                             "int8_max_abs_diff_vs_fp32": float(np.abs(y8 - ref).max()), "output_scale": float(np.abs(ref).max())}
    if not isinstance(lce, str):
        out["peers"].append("larq-compute-engine binary")
        out["lce_check"] = {"max_abs_diff_vs_keras": lce.check}
    for batch in (1, 64):
        x = rng.uniform(0, 1, (batch, 784)).astype(np.float32)
        xd = x.astype(np.float64)  # the LQ models take float64; converted once, outside the timed call
        rows = {
            "fp32 numpy": lambda: np.maximum(x @ w1 + b1, 0) @ w2 + b2,
            "fp32 loop": lambda: fp32_dense(np.maximum(fp32_dense(x, w1t, b1), 0), w2t, b2),
        }
        if not isinstance(ort, str):
            for name, sess in ort.items():
                rows[name] = (lambda sess: (lambda: sess.run(None, {"x": x})))(sess)
        if not isinstance(lce, str):
            # the interpreter's compiled predict (LCE's Python predict() adds a generator and a concatenate,
            # about 10 us at batch 1); its model has batch 1, so a batch is one call per sample
            rows["larq-compute-engine binary"] = (lambda raw, xs: (lambda: [raw.predict([xi]) for xi in xs]))(
                lce.interpreter, [x[i:i + 1] for i in range(batch)])
        for k in ks:
            first = models[(k, paths[0])](xd)
            for path in paths:
                assert np.array_equal(models[(k, path)](xd), first), (k, path)
                rows[f"LQ int{k} {path}"] = (lambda m: (lambda: m(xd)))(models[(k, path)])
            assert np.array_equal(models[(k, "threads")](xd), first), (k, "threads")
            if batch > 1:  # at batch 1 the threads row is the one-thread call (a batch splits into at most batch slices)
                rows[f"LQ int{k} {paths[0]} {threads} threads"] = (lambda m: (lambda: m(xd)))(models[(k, "threads")])
        t = median_times(rows, repeats)
        if batch == 1:  # warm caches: each row called `repeats` times in a row, and the LQ calls without their wrapper
            warm = {name: rows[name] for name in ("fp32 numpy", "onnxruntime int8") if name in rows}
            for k in ks:
                warm[f"LQ int{k} {paths[0]}"] = rows[f"LQ int{k} {paths[0]}"]
                warm[f"LQ int{k} {paths[0]} C call"] = _c_call(models[(k, paths[0])], xd)
            out["warm_batch1"] = {name: median_times({name: fn}, repeats)[name] for name, fn in warm.items()}
        for k in ks:
            t[f"LQ int{k}"] = t[f"LQ int{k} {paths[0]}"]
        out[batch] = {name: v / batch for name, v in t.items()}
    for k in ks:
        out["bytes"][f"LQ int{k}"] = models[(k, paths[0])].layers[0].weight_bytes() + models[(k, paths[0])].layers[1].weight_bytes()
    out["bytes"]["fp32 numpy"] = out["bytes"]["fp32 loop"] = 4 * (w1.size + b1.size + w2.size + b2.size)
    return out


def _c_call(net, x):
    """``net``'s compiled entry point on ``x`` with every pointer prepared (what ``net(x)`` costs without its wrapper)."""
    y = np.empty((len(x), net.layers[-1].n_out))
    args = (net._net_address, x.ctypes.data, len(x), y.ctypes.data)
    run = net._run
    return lambda: run(*args)


def speed_rows(t, ks) -> list[tuple[str, str, str]]:
    """(timing key, row label, path label) of every timed row, table order."""
    rows = [(name, name, "") for name in ["fp32 numpy", "fp32 loop"] + t["peers"]]
    for k in ks:
        rows += [(f"LQ int{k} {path}", f"LQ int{k}", path) for path in t["paths"]]
        rows.append((f"LQ int{k} {t['paths'][0]} {t['threads']} threads", f"LQ int{k}", f"{t['paths'][0]}, {t['threads']} threads"))
    return rows


def speed_table(t, ks) -> str:
    """Per row: us per inference at batch 1 / 64, numpy fp32's time and onnxruntime int8's over the row's (same run)."""
    ort8 = "onnxruntime int8" in t["peers"]
    lines = ["| row | path | batch 1 (us) | numpy fp32 / row, batch 1 | batch 64 (us/inference) | numpy fp32 / row, batch 64 |"
             + (" onnxruntime int8 / row, batch 1 | onnxruntime int8 / row, batch 64 |" if ort8 else ""),
             "|---|---|---|---|---|---|" + ("---|---|" if ort8 else "")]
    def ratio(batch, base, key):
        return f"{t[batch][base] / t[batch][key]:.2f}x" if key in t[batch] else "-"

    for key, label, path in speed_rows(t, ks):  # the threads rows run at batch 64 only ("-" at batch 1)
        us1 = f"{1e6 * t[1][key]:.1f}" if key in t[1] else "-"
        us64 = f"{1e6 * t[64][key]:.2f}" if key in t[64] else "-"
        line = (f"| {label} | {path} | {us1} | {ratio(1, 'fp32 numpy', key)} | {us64} | "
                f"{ratio(64, 'fp32 numpy', key)} |")
        if ort8:
            line += f" {ratio(1, 'onnxruntime int8', key)} | {ratio(64, 'onnxruntime int8', key)} |"
        lines.append(line)
    return "\n".join(lines)


def warm_table(t, ks) -> str:
    """Batch 1 with warm caches: us per call, the ratio to numpy fp32, and the LQ calls' Python wrapper cost."""
    w, path = t["warm_batch1"], t["paths"][0]
    lines = ["| row (batch 1, warm caches) | us | numpy fp32 / row | of which Python wrapper (us) |", "|---|---|---|---|"]
    for name in [n for n in ("fp32 numpy", "onnxruntime int8") if n in w] + [f"LQ int{k} {path}" for k in ks]:
        wrapper = f"{1e6 * (w[name] - w[name + ' C call']):.1f}" if name + " C call" in w else ""
        lines.append(f"| {name} | {1e6 * w[name]:.1f} | {w['fp32 numpy'] / w[name]:.2f}x | {wrapper} |")
    for k in ks:
        name = f"LQ int{k} {path} C call"
        lines.append(f"| {name} (pointers ready, no wrapper) | {1e6 * w[name]:.1f} | {w['fp32 numpy'] / w[name]:.2f}x | |")
    return "\n".join(lines)


def accuracy(hidden: int, ks, epochs: int) -> dict:
    import tensorflow as tf

    from flow.data import load_digits
    from flow.models import QuantSpec, thesis_mlp
    from flow.train import TrainConfig, evaluate, train

    data = load_digits()
    tf.keras.utils.set_random_seed(0)
    model = thesis_mlp((64,), 10, hidden=hidden, spec=QuantSpec("float"))
    train(model, data, TrainConfig(epochs=epochs, progress=False))
    w1, b1 = (v.numpy() for v in model.get_layer("fc1").weights)
    w2, b2 = (v.numpy() for v in model.get_layer("logits").weights)
    acc = {"fp32": evaluate(model, data.x_test, data.y_test), "qat": {}, "qat_ema": {}}
    for k in ks:
        lq = LQMLP(w1, b1, w2, b2, data.x_train, k)
        acc[k] = float(np.mean(lq(data.x_test).argmax(1) == data.y_test))
        acc["qat"][k] = qat_accuracy(model, data, k, epochs=max(1, epochs // 2))
        acc["qat_ema"][k] = qat_accuracy(model, data, k, epochs=max(1, epochs // 2), momentum=0.9)
    return acc


def qat_accuracy(float_model, data, k: int, epochs: int, momentum: float | None = None) -> float:
    """LQ QAT on digits: QEM start (flow.ptq.lq_quantize), then STE training with the kernel bases
    refitted at every step, or (``momentum``) LQ-Nets' moving average from the PTQ basis."""
    from flow.ptq import lq_quantize, unfreeze_kernels
    from flow.train import TrainConfig, evaluate, train

    q = lq_quantize(float_model, data.x_train, bits=k)
    unfreeze_kernels(q, momentum=momentum)
    train(q, data, TrainConfig(epochs=epochs, learning_rate=5e-4, progress=False))
    return evaluate(q, data.x_test, data.y_test)


def table(t, acc, ks) -> str:
    loop1 = t[1]["fp32 loop"]
    np1 = t[1]["fp32 numpy"]
    lines = [
        "| row | batch 1 (us) | batch 64 (us/inference) | fp32 loop / row (batch 1) | thesis ratio | fp32 numpy / row (batch 1) "
        "| weight memory | digits PTQ QEM % (drop) | thesis PTQ % (drop) | digits QAT % (drop) "
        "| digits QAT, moving basis % (drop) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ["fp32 numpy", "fp32 loop"] + [f"LQ int{k}" for k in ks]:
        k = int(name[-1]) if name.startswith("LQ") else None
        thesis_ratio = f"{THESIS['fp32'][0] / THESIS[k][0]:.1f}x" if k else "1.0x" if name == "fp32 loop" else ""
        a = acc["fp32"] if k is None else acc[k]
        ta = THESIS[k][2] if k else THESIS["fp32"][2]
        drop = f" ({100 * (acc['fp32'] - a):.1f})" if k else ""
        tdrop = f" ({THESIS['fp32'][2] - ta:.1f})" if k else ""
        qat = f"{100 * acc['qat'][k]:.2f} ({100 * (acc['fp32'] - acc['qat'][k]):.1f})" if k else ""
        ema = f"{100 * acc['qat_ema'][k]:.2f} ({100 * (acc['fp32'] - acc['qat_ema'][k]):.1f})" if k else ""
        lines.append(
            f"| {name} | {1e6 * t[1][name]:.1f} | {1e6 * t[64][name]:.1f} | {loop1 / t[1][name]:.1f}x | {thesis_ratio} | "
            f"{np1 / t[1][name]:.1f}x | {t['bytes'][name] / 1024:.0f} KB | {100 * a:.2f}{drop} | {ta}{tdrop} | {qat} | {ema} |"
        )
    return "\n".join(lines)


def plot(t, ks, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [key for key, _, _ in speed_rows(t, ks)]
    fig, ax = plt.subplots(figsize=(max(7, 0.6 * len(names)), 4))
    xs = np.arange(len(names))
    ax.bar(xs - 0.2, [1e6 * t[1].get(n, np.nan) for n in names], 0.4, label="batch 1")
    ax.bar(xs + 0.2, [1e6 * t[64].get(n, np.nan) for n in names], 0.4, label="batch 64 (per inference)")
    ax.set_xticks(xs, [n.replace("LQ ", "").replace("larq-compute-engine", "LCE").replace("onnxruntime", "ORT")
                       .replace(" ", "\n") for n in names], fontsize=6)
    ax.set_yscale("log")
    ax.set_ylabel("us per inference (log)")
    ax.set_title("784-660-10 MLP on the CPU: fp32, onnxruntime, LCE vs bitwise LQ")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=660)
    p.add_argument("--repeats", type=int, default=200, help="timing rounds (median)")
    p.add_argument("--no-accuracy", action="store_true", help="time only: no digits training / QAT")
    p.add_argument("--epochs", type=int, default=40, help="float training epochs on digits")
    p.add_argument("--threads", type=int, default=2, help="thread count of the LQ threads rows")
    p.add_argument("--out", default="bench/results")
    args = p.parse_args(argv)
    from flow.small import announce, small

    if small():
        args.hidden, args.repeats, args.epochs = min(args.hidden, 64), min(args.repeats, 3), min(args.epochs, 1)
        announce("lq_cpu bench with 64 hidden units, 3 repeats, 1 epoch")
    ks = (3, 2, 1)
    t = timings(args.hidden, args.repeats, ks, args.threads)
    print(speed_table(t, ks))
    print(warm_table(t, ks))
    acc = None if args.no_accuracy else accuracy(args.hidden, ks, args.epochs)
    if acc is not None:
        print(table(t, acc, ks))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    acc_json = None if acc is None else {str(k): (v if not isinstance(v, dict) else {str(a): b for a, b in v.items()}) for k, v in acc.items()}
    (out / "lq_cpu.json").write_text(json.dumps({"timing_s": {str(k): v for k, v in t.items()}, "accuracy": acc_json}, indent=2))
    plot(t, ks, out / "lq_cpu.png")
    print(f"wrote {out / 'lq_cpu.json'} and {out / 'lq_cpu.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

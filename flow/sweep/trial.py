"""One sweep trial: train -> freeze -> convert (backend MSQ) -> C-simulation -> accuracy -> cost.

:func:`run_trial` never raises: it returns a record whose ``status`` is

* ``ok``: C-simulation equals Keras on every test sample checked;
* ``mismatch``: C-simulation differs from Keras (a failure of the trial, never averaged away);
* ``failed``: a step raised; ``error`` and ``traceback`` say which and why.

Training (seeded, one thread):
    float pre-training (:func:`train_float`: one Ray task per seed before the trials; the driver caches
    the weights in ``<out>/cache/float_seed<N>.npz`` and ships them to the trials through Ray's object store)
    -> fixed (SP2 share 0): STE for ``admm + finetune`` epochs;
       SP2 / MSQ (share > 0): ADMM for ``admm`` epochs (projection every ``epochs_per_update``),
       then STE fine-tuning for ``finetune`` epochs with the rows frozen.

Design: the trial's strategy and reuse factor, or (``reuse_factor: auto``) the smallest reuse factor
estimated to fit the board (``flow.resources.fit.smallest_fit``; RF 1024 when none fits, recorded
as not fitting). The record's ``strategy`` / ``reuse_factor`` are the ones converted.

Cost: the resource estimate on the trial's board (labelled ``estimate``) and, where the spec asks
``measure: yosys``, the yosys synthesis of the RTL route's Verilog (labelled ``yosys synthesis``).
"""

from __future__ import annotations

import os
import platform
import time
import traceback
from pathlib import Path

import numpy as np

from flow.sweep.spec import SHAPED_MODELS, SweepSpec, TrialParams

#: TensorFlow / BLAS thread limits of a trial (one Ray CPU each)
THREAD_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def limit_threads() -> None:
    """One thread for TensorFlow and BLAS in this process (call before TensorFlow starts)."""
    os.environ.update(THREAD_ENV)
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialized in this process: the environment was set before
        pass


def load_data(spec: SweepSpec):
    from flow.data import IMAGE_SHAPES, load

    data = load(spec.dataset, spec.data_path)
    if spec.model in SHAPED_MODELS and spec.model != "thesis_mlp":
        data = data.with_shape(IMAGE_SHAPES[spec.dataset])
    return data


def build_model(spec: SweepSpec, data, qspec, name: str):
    """The zoo model ``spec.model`` for ``data`` with quantization ``qspec``."""
    from flow.models import ZOO

    first = data.input_dim if spec.model == "mlp" else data.x_train.shape[1:]
    model = ZOO[spec.model](first, data.n_classes, spec=qspec, **spec.model_args)
    return model


def quant_spec(spec: SweepSpec, data, bits: int, share: float):
    from flow.models import QuantSpec

    in_bits, in_integer = data.input_quantizer_args()
    scheme = "fixed" if share == 0 else "msq"
    return QuantSpec(scheme, bits, share, in_bits=in_bits, in_integer=in_integer)


def float_model(spec: SweepSpec, data, weights: list | None = None):
    """The float model of the sweep's architecture, with ``weights`` (from :func:`train_float`) when given."""
    from flow.models import QuantSpec

    model = build_model(spec, data, QuantSpec("float"), name="float")
    if weights is not None:
        model.set_weights(weights)
    return model


def train_float(spec: SweepSpec, seed: int) -> list:
    """Float pre-training of ``seed`` (one Ray task per seed); returns the weights (numpy arrays)."""
    from flow.train import TrainConfig, train

    limit_threads()
    data = load_data(spec)
    model = float_model(spec, data)
    train(model, data, TrainConfig(epochs=spec.epochs.float, seed=seed, progress=False), desc="float")
    return model.get_weights()


def train_quantized(spec: SweepSpec, data, params: TrialParams, share: float, float_weights: list, record: dict):
    """The trial's quantized model, trained from the seed's float model and with its rows frozen."""
    from flow.convert import freeze_msq_rows
    from flow.train import ADMMConfig, TrainConfig, evaluate, train, train_admm, transfer_weights

    qspec = quant_spec(spec, data, params.bits, share)
    model = build_model(spec, data, qspec, name=qspec.scheme)
    reference = float_model(spec, data, float_weights)
    record["accuracy_float"] = evaluate(reference, data.x_test, data.y_test)
    transfer_weights(reference, model)
    ep = spec.epochs
    if qspec.scheme == "fixed":
        train(model, data, TrainConfig(epochs=ep.admm + ep.finetune, seed=params.seed, progress=False), desc="fixed")
    else:
        admm = ADMMConfig(epochs=ep.admm, epochs_per_update=ep.epochs_per_update, finetune_epochs=ep.finetune,
                          seed=params.seed, progress=False)
        train_admm(model, data, admm, desc=qspec.label())
    freeze_msq_rows(model)
    return model


def csim(model, hm, x: np.ndarray) -> dict:
    """C-simulation against Keras on ``x``: exact equality per output and per sample."""
    y_keras = model.predict(x, verbose=0, batch_size=512)
    y_csim = np.asarray(hm.predict(np.ascontiguousarray(x))).reshape(y_keras.shape)
    equal = y_keras == y_csim
    return {"samples": int(len(x)), "outputs_equal": int(equal.sum()), "outputs_total": int(equal.size),
            "samples_equal": int(np.all(equal, axis=1).sum()), "y_csim": y_csim, "y_keras": y_keras}


def design_point(model, params: TrialParams, data_bits: int):
    """The trial's design and its estimate on its board (``reuse_factor: auto``: the smallest that fits)."""
    from flow.boards import get_board
    from flow.resources.fit import REUSE_FACTORS, fit_at, smallest_fit

    board = get_board(params.board)
    if params.reuse_factor != "auto":
        return fit_at(model, board, params.strategy, params.reuse_factor, data_bits)
    point = smallest_fit(model, board, params.strategy, data_bits)
    return point or fit_at(model, board, "Resource", REUSE_FACTORS[-1], data_bits)


def estimate_dict(point) -> dict:
    """The figures of a :class:`flow.resources.fit.Fit` (all estimated)."""
    total = point.result["total"]
    return {"source": "estimate", "dsp": int(total["dsp"]), "lut": int(total["lut"]), "ff": int(total["ff"]),
            "bram36": float(total["bram36"]), "latency_us": float(point.result["latency_us"]),
            "gops": float(point.result["gops"]), "fits": bool(point.fits), "over": point.over()}


def measure_yosys(hm, directory: Path) -> dict:
    """yosys synthesis of the RTL route's Verilog of the converted model (measured, no placement)."""
    from flow.rtl.design import emit
    from flow.rtl.synth import synthesize

    total = synthesize(emit(hm, directory, force=True))["total"]
    return {"source": "yosys synthesis", **{k: int(v) for k, v in total.items()}}


def _steps(spec: SweepSpec, params: TrialParams, directory: Path, float_weights: list, record: dict) -> None:
    from flow.boards import get_board
    from flow.convert import ConvertConfig, convert

    timings = record["timings_s"]
    t0 = time.perf_counter()
    data = load_data(spec)
    share = params.resolved_share()
    record["sp2_share"] = share
    model = train_quantized(spec, data, params, share, float_weights, record)
    model.save(directory / "model.h5")
    timings["train"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    point = design_point(model, params, data.input_quantizer_args()[0])
    record["estimate"] = estimate_dict(point)
    record["strategy"], record["reuse_factor"] = point.strategy, point.reuse_factor
    cfg = ConvertConfig(strategy=point.strategy, reuse_factor=point.reuse_factor, part=get_board(params.board).part)
    hm = convert(model, directory / "hls", cfg, force=True, report=lambda *_: None)
    timings["convert"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    n = len(data.x_test) if spec.csim_samples is None else min(spec.csim_samples, len(data.x_test))
    check = csim(model, hm, data.x_test[:n])
    y = data.y_test[:n]
    record["accuracy_keras"] = float(np.mean(np.argmax(check.pop("y_keras"), axis=1) == y))
    record["accuracy"] = float(np.mean(np.argmax(check.pop("y_csim"), axis=1) == y))
    record["csim"] = check
    timings["csim"] = round(time.perf_counter() - t0, 2)

    if spec.measure == "yosys":
        t0 = time.perf_counter()
        record["measured"] = measure_yosys(hm, directory / "rtl")
        timings["yosys"] = round(time.perf_counter() - t0, 2)
    exact = check["outputs_equal"] == check["outputs_total"]
    record["status"] = "ok" if exact else "mismatch"
    if not exact:
        record["error"] = (f"C-simulation differs from Keras: {check['outputs_equal']} / {check['outputs_total']} "
                           f"outputs equal on the test split (project {directory / 'hls'})")


def new_record(params: TrialParams) -> dict:
    return {"id": params.trial_id, **{k: getattr(params, k) for k in ("bits", "strategy", "reuse_factor", "board",
                                                                      "seed")},
            "sp2_share_asked": params.sp2_share, "sp2_share": None, "strategy_asked": params.strategy,
            "reuse_factor_asked": params.reuse_factor, "status": "failed", "error": None,
            "accuracy": None, "accuracy_keras": None, "accuracy_float": None, "csim": None, "estimate": None,
            "measured": None, "timings_s": {}, "host": platform.node(), "pid": os.getpid()}


def run_trial(spec: SweepSpec, params: TrialParams, out: str, float_weights: list) -> dict:
    """Run one trial in ``<out>/trials/<id>`` from the seed's float weights; its record (never raises)."""
    t_start = time.perf_counter()
    record = new_record(params)
    directory = Path(out) / "trials" / params.trial_id
    try:
        limit_threads()
        directory.mkdir(parents=True, exist_ok=True)
        _steps(spec, params, directory, float_weights, record)
    except Exception as exc:  # noqa: BLE001 (a trial's failure is data: recorded, the sweep goes on)
        record["status"] = "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    record["wall_s"] = round(time.perf_counter() - t_start, 2)
    return record

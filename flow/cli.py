"""Command line: ``python -m flow demo | convert | golden | calibrate | estimate | learn-widths | build | rtl | sweep``."""

from __future__ import annotations

import argparse
import os
import sys


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import warnings

    warnings.filterwarnings("ignore", message="The `keras.constraints.serialize")
    warnings.filterwarnings("ignore", message="You are saving your model as an HDF5 file")


def cmd_demo(args) -> int:
    from flow import demo
    from flow.convert import ConvertConfig

    cfg = demo.DemoConfig(
        dataset=args.dataset,
        data_path=args.data_path,
        model=args.model,
        bits=args.bits,
        sp2_share=args.sp2_share if args.sp2_share == "auto" else float(args.sp2_share),
        board=args.board,
        output_dir=args.output_dir,
        force=args.force,
        convert=ConvertConfig(strategy=args.strategy or "Latency", reuse_factor=args.reuse_factor or 1,
                              io_type=args.io_type),
        fit_board=args.strategy is None and args.reuse_factor is None,
    )
    result = demo.run(cfg)
    print(demo.format_report(result))
    cs = result["csim"]
    exact = cs["outputs_equal"] == cs["outputs_total"] and cs.get("raw_samples_equal") == cs.get("raw_samples")
    return 0 if exact else 1


def cmd_convert(args) -> int:
    import flow
    from flow.convert import ConvertConfig, convert

    model = flow.load_model(args.model)
    cfg = ConvertConfig(
        strategy=args.strategy, reuse_factor=args.reuse_factor, part=args.part,
        input_precision=args.input_precision, strict_input=args.strict_input,
    )
    convert(model, args.output_dir, cfg, force=args.force, compile=not args.no_compile,
            allow_approximate=args.allow_approximate)
    print(f"HLS project written to {os.path.abspath(args.output_dir)}")
    return 0


def cmd_golden(args) -> int:
    from flow import golden

    written = golden.regenerate(models_from=args.models_from)
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_calibrate(args) -> int:
    from flow.resources.calibrate import CALIBRATION, calibrate

    table = calibrate(output=CALIBRATION)
    print(f"{len(table['blocks'])} blocks measured with {table['yosys']}; wrote {CALIBRATION}")
    return 0


def cmd_estimate(args) -> int:
    import flow
    from flow.boards import get_board
    from flow.resources.estimate import estimate, format_estimate, model_axi_beats, optimize, works_from_model

    board = get_board(args.board)
    model = flow.load_model(args.model)
    works = works_from_model(model, args.reuse_factor, args.data_bits)
    beats = model_axi_beats(model, args.data_bits, args.io_type)
    result = (optimize(works, board, io_beats=beats, io_type=args.io_type) if args.optimize
              else estimate(works, board, io_beats=beats, io_type=args.io_type))
    print(format_estimate(result))
    if args.optimize:
        from flow.resources.estimate import LayerWork

        if any(isinstance(w, LayerWork) for w in works):
            print(f"best: SP2 share {result['sp2_share']:.2f}, ReuseFactor {result['reuse_factor']} (retrain with that share)")
        else:
            print(f"best: ReuseFactor {result['reuse_factor']}")
    return 0 if all(result["fits"].values()) else 1


def cmd_learn_widths(args) -> int:
    from flow.bitwidth.schedule import ScheduleConfig, run_schedule
    from flow.config_files import load_yaml_mapping

    settings = load_yaml_mapping(args.config, "schedule settings") if args.config else {}
    for key in ("model", "dataset", "data_path", "cost_weight"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    cfg = ScheduleConfig.from_dict(settings)
    model, log = run_schedule(cfg, args.out, resume=args.resume, force=args.force)
    for entry in log:
        widths = entry.get("widths")
        shown = " ".join(f"{k}={v}" for k, v in widths.items()) if widths else ""
        print(f"{entry['step']:<12} {entry['status']:<8} {entry['seconds']:>7.1f} s  acc {100 * entry['test_accuracy']:6.2f} %  {shown}")
    print(f"frozen QKeras model: {os.path.join(args.out, 'finetune.h5')} (log: schedule.json)")
    return 0


def cmd_build(args) -> int:
    from flow.build import BuildConfig, build
    from flow.resources.fit import DoesNotFit

    cfg = BuildConfig(
        model=args.model,
        board=args.board,
        out=args.out,
        cut=args.cut,
        strategy=args.strategy,
        reuse_factor=args.reuse_factor,
        io_type=args.io_type,
        clock_mhz=args.clock_mhz,
        input_precision=args.input_precision,
        allow_approximate=args.allow_approximate,
        allow_overbudget=args.allow_overbudget,
        rtl=args.rtl,
    )
    try:
        state = build(cfg, resume=args.resume, force=args.force, until=args.until, optimize=args.optimize)
    except DoesNotFit as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if "stopped" in state:
        library = "the Verilator library of the RTL IP" if cfg.rtl else "the C-simulation library"
        print(f"stopped before '{state['stopped']['step']}'; no bitstream was built. The overlay directory "
              f"{os.path.join(args.out, 'overlay')} has the manifest, the driver and {library}.")
        return 3
    if args.until and state["steps"].get("package", {}).get("status") != "done":
        print(f"stopped after '{args.until}' (--until); continue with --resume")
        return 0
    print(f"overlay ready in {os.path.join(args.out, 'overlay')}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (the bad argument and where to look), exit code 2."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m flow", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    d = sub.add_parser("demo", help="train float/fixed/SP2/MSQ MLPs, convert MSQ to HLS, C-simulate, print a table")
    d.add_argument("--dataset", default="digits", choices=("digits", "mnist1d", "mnist", "cifar10"))
    d.add_argument("--data-path", default=None, help="a .npz with x_train, y_train, x_test, y_test (mnist, cifar10)")
    d.add_argument("--model", default="mlp", choices=("mlp", "cnn"))
    d.add_argument("--io-type", default="io_parallel", choices=("io_parallel", "io_stream"))
    d.add_argument("--bits", type=_positive_int, default=4)
    d.add_argument("--sp2-share", default="auto", help="a number in [0, 1], or 'auto' (balanced for --board)")
    d.add_argument("--board", default="pynq-z2")
    d.add_argument("--strategy", default=None, choices=("Latency", "Resource"),
                   help="default (neither --strategy nor --reuse-factor given): the fastest design estimated to fit --board")
    d.add_argument("--reuse-factor", type=_positive_int, default=None)
    d.add_argument("--output-dir", default="out/demo")
    d.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    d.set_defaults(func=cmd_demo)

    c = sub.add_parser("convert", help="convert a saved QKeras model (.h5) to an HLS project and compile it")
    c.add_argument("model")
    c.add_argument("output_dir")
    c.add_argument("--strategy", default="Latency", choices=("Latency", "Resource"))
    c.add_argument("--reuse-factor", type=_positive_int, default=1)
    c.add_argument("--part", default="xc7z020clg400-1")
    c.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    c.add_argument("--no-compile", action="store_true")
    c.add_argument("--input-precision", default=None,
                   help="HLS input type; default: the model's first quantizer (raw floats quantized like Keras)")
    c.add_argument("--strict-input", action="store_true", help="an input with no quantizer is an error, not a warning")
    c.add_argument("--allow-approximate", action="store_true",
                   help="convert layers with no exact type (float weights/activations) with hls4ml's default types")
    c.set_defaults(func=cmd_convert)

    g = sub.add_parser("golden", help="regenerate the C-sim golden data in tests/golden (deliberate changes only)")
    g.add_argument("--models-from", default=None, help="copy new models from this directory (e.g. out/demo/models)")
    g.set_defaults(func=cmd_golden)
    cal = sub.add_parser("calibrate", help="measure PE costs with yosys and rewrite flow/resources/calibration.json")
    cal.set_defaults(func=cmd_calibrate)

    e = sub.add_parser("estimate", help="DSP/LUT/FF/BRAM, cycles, latency and GOPS of a saved model on a board")
    e.add_argument("model")
    e.add_argument("--board", default="pynq-z2")
    e.add_argument("--reuse-factor", type=_positive_int, default=1)
    e.add_argument("--data-bits", type=_positive_int, default=8)
    e.add_argument("--io-type", default="io_parallel", choices=("io_parallel", "io_stream"))
    e.add_argument("--optimize", action="store_true", help="search the SP2 share and ReuseFactor with the most GOPS that fit")
    e.set_defaults(func=cmd_estimate)

    w = sub.add_parser(
        "learn-widths",
        help="the four-step learned bit-width schedule: float -> weights -> activations -> fine-tune (resumable)",
    )
    w.add_argument("--out", required=True, help="directory for the checkpoints and schedule.json")
    w.add_argument("--config", default=None, help="YAML file of ScheduleConfig settings (flags override it)")
    w.add_argument("--model", default=None, choices=("mlp", "vgg", "resnet8", "cnn1d"))
    w.add_argument("--dataset", default=None, choices=("digits", "mnist1d", "mnist", "cifar10"))
    w.add_argument("--data-path", default=None)
    w.add_argument("--cost-weight", type=float, default=None, help="weight of the BOPs cost term (default 0.1)")
    w.add_argument("--resume", action="store_true", help="load the steps whose checkpoints exist")
    w.add_argument("--force", action="store_true", help="replace a non-empty --out directory")
    w.set_defaults(func=cmd_learn_widths)

    b = sub.add_parser("build", help="model -> HLS project, AXI top, Vitis HLS IP, Vivado bitstream, PYNQ overlay")
    b.add_argument("model", help="a saved QKeras model (.h5)")
    b.add_argument("--board", default="pynq-z2", help="pynq-z1, pynq-z2 or zc706")
    b.add_argument("--out", required=True, help="build directory")
    b.add_argument("--cut", default="auto", help="layer after which a float head runs on the host ('auto', 'none' or a name)")
    b.add_argument("--strategy", default="Latency", choices=("Latency", "Resource"))
    b.add_argument("--reuse-factor", type=_positive_int, default=1)
    b.add_argument("--io-type", default="io_parallel", choices=("io_parallel", "io_stream"),
                   help="hls4ml I/O style: io_parallel (arrays) or io_stream (packet streams fed from the AXI stream; CNNs)")
    b.add_argument("--clock-mhz", type=float, default=None)
    b.add_argument("--input-precision", default=None,
                   help="HLS input type, e.g. 'fixed<6,2>'; default: the model's first quantizer (raw floats exact)")
    b.add_argument("--allow-approximate", action="store_true",
                   help="build layers with no exact type (float weights/activations) with hls4ml's default types")
    b.add_argument("--optimize", action="store_true",
                   help="use the fastest strategy / reuse factor estimated to fit the board when the requested one does not")
    b.add_argument("--allow-overbudget", action="store_true",
                   help="go on with a design estimated (or reported by Vitis HLS) not to fit the board")
    b.add_argument("--rtl", action="store_true",
                   help="RTL route, no Vitis HLS: Verilog from flow.rtl (Verilator-checked), packaged as an IP by Vivado "
                        "(tcl/rtl_package_ip.tcl), the same block design and manifest; io_parallel only")
    b.add_argument("--until", default=None, help="stop after this step")
    b.add_argument("--resume", action="store_true", help="continue a build, skipping the steps already done")
    b.add_argument("--force", action="store_true", help="replace a non-empty build directory")
    b.set_defaults(func=cmd_build)

    from flow.rtl.run import add_parser as add_rtl_parser

    add_rtl_parser(sub, _positive_int)
    from flow.sweep.cli import add_parser as add_sweep_parser

    add_sweep_parser(sub, _positive_int)
    return p


def main(argv=None) -> int:
    _quiet_tensorflow()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileExistsError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
            RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""``python -m flow sweep SPEC.yaml --out DIR [--address ADDR] [--workers N] [--resume | --force]``."""

from __future__ import annotations


def cmd_sweep(args) -> int:
    from flow.small import announce, small
    from flow.sweep.engine import run
    from flow.sweep.spec import load_spec

    spec = load_spec(args.spec)
    if small():
        import dataclasses

        spec = dataclasses.replace(spec, epochs=dataclasses.replace(spec.epochs, float=1, admm=1, finetune=1,
                                                                    epochs_per_update=1))
        announce("sweep with 1 float, 1 ADMM and 1 fine-tune epoch per trial")
    result = run(spec, args.out, address=args.address, workers=args.workers, resume=args.resume, force=args.force)
    return 0 if not result.failed else 1


def add_parser(sub, positive_int) -> None:
    s = sub.add_parser("sweep", help="design-space sweep on Ray: each point trained, C-simulated and costed")
    s.add_argument("spec", help="sweep YAML (model, dataset, axes bits / sp2_share / strategy / reuse_factor / "
                                "board / seeds, epochs)")
    s.add_argument("--out", required=True, help="output directory (trials/, results.csv, results.md, pareto.png)")
    s.add_argument("--address", default=None, help="a running Ray cluster (e.g. 10.0.0.1:6379 or 'auto'); "
                                                   "default: a local Ray instance")
    s.add_argument("--workers", type=positive_int, default=None,
                   help="trials in flight at once (default: the CPUs of the local machine or the cluster)")
    mode = s.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="run only the missing or failed trials of --out")
    mode.add_argument("--force", action="store_true", help="replace a non-empty --out")
    s.set_defaults(func=cmd_sweep)

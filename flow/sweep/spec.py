"""A sweep specification: the model, the data set, the axes and the training budget (YAML on disk).

Example (``bench/sweep_mnist1d.yaml``)::

    model: mlp                 # a zoo name (flow.models.ZOO)
    model_args: {hidden: [64, 32]}
    dataset: mnist1d
    bits: [3, 4, 6]
    sp2_share: [0, 0.25, 0.5, 0.75, 1]   # or 'auto': the board's balanced share
    strategy: [Latency]
    reuse_factor: [auto]       # or integers; 'auto': the smallest that fits the board (estimated)
    board: [pynq-z2]
    seeds: [0, 1]
    epochs: {float: 30, admm: 10, finetune: 5}
    measure: none              # or 'yosys': measured LUT/DSP of the RTL route as well

Every axis is a list (a scalar is read as a one-element list); the trials are their product.
Validation happens at load: an unknown key, an empty axis, an unknown board, a share outside
[0, 1] or a non-positive reuse factor is a ``ValueError`` that names the key.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
from dataclasses import dataclass, field
from pathlib import Path

STRATEGIES = ("Latency", "Resource")
MEASURES = ("none", "yosys")
#: zoo models that need image / signal shaped samples (the others take flat vectors)
SHAPED_MODELS = ("vgg", "resnet8", "cnn1d", "thesis_mlp")


@dataclass(frozen=True)
class Epochs:
    """Training budget of one trial: float pre-training, ADMM (or STE for fixed), fine-tuning."""

    float: int = 30
    admm: int = 10
    finetune: int = 5
    epochs_per_update: int = 2

    def __post_init__(self):
        for name in ("float", "admm", "finetune"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"epochs.{name}: a non-negative integer is required, got {getattr(self, name)!r}")
        if not isinstance(self.epochs_per_update, int) or self.epochs_per_update < 1:
            raise ValueError(f"epochs.epochs_per_update: a positive integer is required, "
                             f"got {self.epochs_per_update!r}")


@dataclass(frozen=True)
class TrialParams:
    """One point of the sweep (``sp2_share`` and ``reuse_factor`` as asked: numbers or 'auto')."""

    bits: int
    sp2_share: float | str
    strategy: str
    reuse_factor: int | str
    board: str
    seed: int

    @property
    def trial_id(self) -> str:
        share = self.sp2_share if self.sp2_share == "auto" else f"{float(self.sp2_share):g}"
        return f"b{self.bits}_s{share}_{self.strategy}_rf{self.reuse_factor}_{self.board}_seed{self.seed}"

    def resolved_share(self) -> float:
        if self.sp2_share == "auto":
            from flow.quantizers.msq import auto_share

            return auto_share(self.board, self.bits)
        return float(self.sp2_share)


@dataclass(frozen=True)
class SweepSpec:
    model: str = "mlp"
    dataset: str = "digits"
    data_path: str | None = None
    model_args: dict = field(default_factory=dict)
    bits: tuple = (4,)
    sp2_share: tuple = ("auto",)
    strategy: tuple = ("Latency",)
    reuse_factor: tuple = (1,)
    board: tuple = ("pynq-z2",)
    seeds: tuple = (0,)
    epochs: Epochs = field(default_factory=Epochs)
    #: test samples C-simulated (None: the whole test split)
    csim_samples: int | None = None
    measure: str = "none"

    def __post_init__(self):
        for axis in AXES:
            object.__setattr__(self, axis, _as_axis(axis, getattr(self, axis)))
        if isinstance(self.epochs, dict):
            object.__setattr__(self, "epochs", _build(Epochs, self.epochs, "epochs"))
        _check(self)

    def trials(self) -> list[TrialParams]:
        """The product of the axes, in a stable order."""
        grid = itertools.product(self.bits, self.sp2_share, self.strategy, self.reuse_factor, self.board, self.seeds)
        return [TrialParams(*point) for point in grid]

    def to_dict(self) -> dict:
        """Plain YAML / JSON types (tuples become lists)."""
        import json

        return json.loads(json.dumps(dataclasses.asdict(self)))


AXES = ("bits", "sp2_share", "strategy", "reuse_factor", "board", "seeds")


def _as_axis(name: str, value) -> tuple:
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not values:
        raise ValueError(f"{name}: the axis is empty; give at least one value")
    if len(set(values)) != len(values):
        raise ValueError(f"{name}: repeated values {list(values)}")
    return values


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_axes(spec: SweepSpec) -> None:
    from flow.boards import get_board

    for b in spec.bits:
        if not _is_int(b) or not 2 <= b <= 16:
            raise ValueError(f"bits: {b!r} is not a weight width between 2 and 16")
    for s in spec.sp2_share:
        if s == "auto":
            continue
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0.0 <= float(s) <= 1.0:
            raise ValueError(f"sp2_share: {s!r} is outside [0, 1] (numbers in [0, 1] or 'auto')")
    for s in spec.strategy:
        if s not in STRATEGIES:
            raise ValueError(f"strategy: unknown strategy {s!r}; use one of {STRATEGIES}")
    for rf in spec.reuse_factor:
        if rf != "auto" and (not _is_int(rf) or rf < 1):
            raise ValueError(f"reuse_factor: {rf!r} is not a positive integer (or 'auto': the smallest that fits)")
    for board in spec.board:
        try:
            get_board(board)
        except ValueError as exc:
            raise ValueError(f"board: {exc}") from None
    for seed in spec.seeds:
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"seeds: {seed!r} is not a non-negative integer")


def _check(spec: SweepSpec) -> None:
    from flow.data import DATASETS
    from flow.models import ZOO

    if spec.model not in ZOO:
        raise ValueError(f"model: unknown zoo model {spec.model!r}; the zoo has {', '.join(sorted(ZOO))}")
    if spec.dataset not in DATASETS:
        raise ValueError(f"dataset: unknown data set {spec.dataset!r}; data sets are {', '.join(DATASETS)}")
    if not isinstance(spec.model_args, dict):
        raise ValueError(f"model_args: a mapping of the zoo builder's arguments is required, got {spec.model_args!r}")
    accepted = set(inspect.signature(ZOO[spec.model]).parameters) - {"input_dim", "input_shape", "n_classes", "spec"}
    for key in spec.model_args:
        if key not in accepted:
            raise ValueError(f"model_args.{key}: {spec.model}() takes no such argument; it takes {sorted(accepted)}")
    _check_axes(spec)
    ids = [t.trial_id for t in spec.trials()]
    if len(set(ids)) != len(ids):
        raise ValueError("sp2_share: values that print alike (6 significant digits) would share a trial directory; "
                         "round them")
    if spec.measure not in MEASURES:
        raise ValueError(f"measure: {spec.measure!r} is not one of {MEASURES}")
    if spec.csim_samples is not None and (not _is_int(spec.csim_samples) or spec.csim_samples < 1):
        raise ValueError(f"csim_samples: {spec.csim_samples!r} is not a positive integer (or null: the whole split)")


def _build(cls, data: dict, where: str = ""):
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__}: a mapping is required, got {data!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            prefix = f"{where}." if where else ""
            raise ValueError(f"{prefix}{key}: unknown key; known keys are {', '.join(sorted(names))}")
    return cls(**data)


def from_dict(data: dict) -> SweepSpec:
    """A validated :class:`SweepSpec` from a mapping (the YAML's contents)."""
    return _build(SweepSpec, dict(data))


def load_spec(path) -> SweepSpec:
    """Read and validate a sweep YAML; errors start with the file name and name the key."""
    from flow.config_files import load_yaml_mapping

    try:
        return from_dict(load_yaml_mapping(path, "sweep settings"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def save_spec(spec: SweepSpec, path: Path) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False))

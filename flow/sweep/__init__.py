"""Design-space sweeps on Ray: share x bits x strategy / reuse factor x board x seed.

Each point is trained, converted with backend ``MSQ``, C-simulated against Keras (exactly) and
costed on its board. ``python -m flow sweep SPEC.yaml --out DIR`` or :func:`run`; see
:mod:`flow.sweep.spec` for the YAML and :mod:`flow.sweep.engine` for the output layout.
"""

from flow.sweep.engine import SweepResult, run
from flow.sweep.spec import SweepSpec, TrialParams, from_dict, load_spec

__all__ = ["SweepResult", "SweepSpec", "TrialParams", "from_dict", "load_spec", "run"]

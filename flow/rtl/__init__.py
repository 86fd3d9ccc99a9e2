"""The RTL route: Verilog from a model converted with backend ``MSQ`` (same exact types and lane
schedule as the HLS kernels), simulated by Verilator bit for bit and synthesized by yosys.

- :func:`emit` (:mod:`flow.rtl.design`): ``design.v`` + ``rtl.json``;
- :class:`RTLModel` (:mod:`flow.rtl.sim`): Verilator build, ``predict`` through the AXI streams;
- :func:`flow.rtl.synth.synthesize`: yosys ``synth_xilinx -family xc7`` per stage and whole.
"""

from flow.rtl.design import RTLDesign, emit
from flow.rtl.sim import RTLModel

__all__ = ["RTLDesign", "RTLModel", "emit"]

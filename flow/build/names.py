"""The names the generated C++, the Tcl scripts and the driver share: defined once, here.

They reach the Tcl through ``build_vars.tcl``, the C++ through ``msq_axi_config.h`` and the
driver through the overlay manifest; none of those files hard-codes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class AccelNames:
    overlay: str = "msq_accel"
    top: str = "msq_accel"
    ip_vendor: str = "msq.flow"
    ip_library: str = "hls"
    ip_version: str = "1.0"
    ip_instance: str = "msq_accel_0"
    dma_instance: str = "axi_dma_0"
    in_port: str = "in_stream"
    out_port: str = "out_stream"
    #: the AXI4-Lite slave (the Vitis HLS name; the RTL IP's is the same, flow/rtl/axilite.py)
    ctrl_port: str = "s_axi_control"
    bd_name: str = "msq_bd"
    #: s_axilite offsets Vitis HLS gives the block control and the first scalar argument;
    #: replaced by the values in the exported IP's driver header once HLS has run.
    ctrl_offset: int = 0x00
    n_samples_offset: int = 0x10
    dma_length_width: int = 26

    #: the IP library of the RTL route's packaged IP (flow.rtl; ``python -m flow build --rtl``)
    rtl_ip_library: str = "rtl"
    #: the RTL route's Verilog top module (flow/rtl/ip.py), packaged under the IP name ``top``
    rtl_top: str = "msq_rtl_ip"
    clock_port: str = "ap_clk"
    reset_port: str = "ap_rst_n"

    def route(self, rtl: bool) -> "AccelNames":
        """The names of a build: the RTL route's IP is ``<vendor>:rtl:<top>:<version>``, everything else shared."""
        return replace(self, ip_library=self.rtl_ip_library) if rtl else self

    @property
    def ip_vlnv(self) -> str:
        return f"{self.ip_vendor}:{self.ip_library}:{self.top}:{self.ip_version}"

    def to_dict(self) -> dict:
        return asdict(self)


NAMES = AccelNames()

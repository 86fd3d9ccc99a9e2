"""RTL IP top (``msq_rtl_ip``): the AXI4-Lite register map ``s_axi_control`` of the Vitis HLS top, driven
through Verilator transaction by transaction (flow/hls_templates/rtl/msq_rtl_ip_harness.cpp), and whole
batches driven as the board driver drives them (AXI-Lite + AXI-Stream) equal to C-simulation."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from flow.convert import ConvertConfig, convert
from flow.rtl.axilite import AP_DONE, AP_IDLE, AP_READY, AP_START, AUTO_RESTART, GIE_OFFSET, IER_OFFSET, ISR_OFFSET
from tests.conftest import grid_inputs
from tests.test_csim_dense import SHAPES, build

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None,
                                     reason="verilator not installed (apt-get install verilator; .ci/run installs it)")
pytestmark = [pytest.mark.verilator, needs_verilator]


@pytest.fixture(scope="module")
def ip_design(tmp_path_factory):
    """A small MSQ MLP (Resource, RF 3: several cycles a sample) as RTL IP, its C-simulation and its inputs."""
    from flow.rtl import emit
    from flow.rtl.ip import RTLIP, emit_ip

    model = build(SHAPES[1], 4, 0.5, seed=21)
    root = tmp_path_factory.mktemp("rtl_ip")
    hm = convert(model, root / "hls", ConvertConfig(strategy="Resource", reuse_factor=3))
    design = emit(hm, root / "rtl")
    emit_ip(design)
    ip = RTLIP(design)
    x = grid_inputs(np.random.default_rng(5), 24, SHAPES[1][0], frac_bits=5, lo=-4, hi=4)
    return ip, x, hm.predict(x).reshape(len(x), -1)


def _words(ip, x):
    from msq_overlay.packing import pack_beats

    d = ip.design
    return pack_beats(np.asarray(x).reshape(len(x), -1), d.in_type, d.in_format).reshape(-1)


def _unpack(ip, beats, n):
    from msq_overlay.packing import unpack_beats

    d = ip.design
    return unpack_beats(beats.reshape(n, -1), d.out_type, d.out_format)


def test_register_map_is_the_shared_one():
    """One definition: flow.build.names -> the RTL register map -> the manifest's ip.registers; Vitis HLS'
    layout for one scalar argument (control 0x00, GIE 0x04, IER 0x08, ISR 0x0C, n_samples 0x10, 5 address bits)."""
    from flow.build.names import NAMES
    from flow.rtl.axilite import RegisterMap, register_map

    regs = register_map()
    assert regs.manifest == {"ctrl": NAMES.ctrl_offset, "n_samples": NAMES.n_samples_offset} == {"ctrl": 0, "n_samples": 0x10}
    assert regs.addr_bits == 5 and regs.block_range == 4096
    assert RegisterMap(0, 0x18).addr_bits == 5 and RegisterMap(0, 0x20).addr_bits == 6
    for bad in ((4, 0x10), (0, 0x0C), (0, 0x12)):
        with pytest.raises(ValueError):
            RegisterMap(*bad)


def test_ip_lint_clean_and_hls_port_names(ip_design):
    """verilator --lint-only -Wall on the IP top and everything below it: no warning; the ports are the Vitis HLS
    IP's (<bus>_<SIGNAL>), which Vivado's packager infers as in_stream, out_stream and s_axi_control."""
    from flow.rtl.ip import IP_VERILOG, lint_ip
    from flow.rtl.sim import lint

    ip, _, _ = ip_design
    assert lint_ip(ip.design) == [] and lint(ip.design.verilog) == []
    text = (ip.design.directory / IP_VERILOG).read_text()
    ports = set(re.findall(r"^\s+(?:input|output)\s+(?:\[[^\]]+\]\s+)?(\w+)", text.split("module msq_rtl_ip (")[1], re.M))
    lite = {f"s_axi_control_{s}" for s in ("AWADDR", "AWVALID", "AWREADY", "WDATA", "WSTRB", "WVALID", "WREADY", "BRESP",
                                           "BVALID", "BREADY", "ARADDR", "ARVALID", "ARREADY", "RDATA", "RRESP", "RVALID",
                                           "RREADY")}
    streams = {f"{bus}_{s}" for bus in ("in_stream", "out_stream") for s in ("TDATA", "TVALID", "TREADY", "TLAST", "TKEEP", "TSTRB")}
    assert ports == lite | streams | {"ap_clk", "ap_rst_n", "interrupt"}


def test_registers_after_reset_and_byte_strobes(ip_design):
    ip, _, _ = ip_design
    ip.reset()
    assert ip.read(0x00) == AP_IDLE  # idle, nothing started, done, ready or auto-restart
    assert [ip.read(a) for a in (GIE_OFFSET, IER_OFFSET, ISR_OFFSET, 0x10, 0x14, 0x1C)] == [0] * 6  # unmapped: 0
    assert ip.write(0x10, 0x12345678) == 0  # BRESP OKAY
    assert ip.read(0x10) == 0x12345678
    # byte strobes, and AW / W arriving in either order (each held until taken)
    ip.write(0x10, 0xAB, strb=0b0001, aw_delay=3)
    ip.write(0x10, 0xCD00, strb=0b0010, w_delay=4)
    ip.write(0x10, 0xEF000000, strb=0b1000, aw_delay=2, w_delay=1)
    assert ip.read(0x10) == 0xEF34CDAB
    ip.write(0x14, 0xFFFFFFFF)  # an unmapped write changes nothing
    assert ip.read(0x10) == 0xEF34CDAB and ip.read(0x14) == 0
    ip.write(GIE_OFFSET, 0xFFFFFFFF)
    ip.write(IER_OFFSET, 0xFFFFFFFF)
    assert (ip.read(GIE_OFFSET), ip.read(IER_OFFSET), ip.read(0x00)) == (1, 3, AP_IDLE)
    ip.write(0x00, 0x7E)  # bits other than ap_start and auto_restart are read-only; ap_start 0 starts nothing
    assert ip.read(0x00) == AP_IDLE


def test_control_semantics_step_by_step(ip_design):
    """ap_start is taken (cleared) by ap_ready; ap_ready and ap_done are clear on read; ap_idle falls while the
    batch runs; ISR bits are set by enabled events and toggled by writing 1; the interrupt pin is GIE & ISR."""
    ip, x, y = ip_design
    k = 6
    ip.reset()
    ip.load(_words(ip, x[:k]))
    ip.write(0x10, k)
    ip.write(IER_OFFSET, 0b11)
    ip.write(GIE_OFFSET, 1)
    assert ip.probe("interrupt") == 0
    ip.write(0x00, AP_START)
    ctrl = ip.read(0x00)  # (ap_idle is a registered copy, as in the HLS map: it may read 1 one cycle longer)
    assert ctrl & AP_START == 0 and ctrl & AP_READY and not ctrl & AP_DONE
    assert ip.read(0x00) & (AP_READY | AP_IDLE) == 0  # ap_ready clear on read; running
    assert ip.read(ISR_OFFSET) == 0b10 and ip.probe("interrupt") == 1  # ap_ready enabled in IER
    ip.write(ISR_OFFSET, 0b10)  # toggle: cleared
    assert ip.read(ISR_OFFSET) == 0 and ip.probe("interrupt") == 0
    for _ in range(10000):
        if ip.probe("tlasts"):
            break
        ip.tick()
    ip.tick(4)
    assert ip.probe("tlasts") == 1 and ip.probe("taken") == k * ip.design.in_format.beats_per_sample
    assert ip.read(ISR_OFFSET) == 0b01 and ip.probe("interrupt") == 1
    ctrl = ip.read(0x00)
    assert ctrl & AP_DONE and ctrl & AP_IDLE and not ctrl & AP_START
    assert ip.read(0x00) == AP_IDLE  # ap_done cleared by the read
    ip.write(GIE_OFFSET, 0)
    assert ip.probe("interrupt") == 0 and ip.read(ISR_OFFSET) == 0b01
    assert np.array_equal(_unpack(ip, ip.outputs(), k), y[:k]) and ip.probe("error") == 0


def test_auto_restart_runs_again_until_cleared(ip_design):
    """auto_restart keeps ap_start set when ap_ready takes it, so the top starts again as soon as it is idle.
    Cleared while run 3 is in flight (its start already re-armed ap_start), run 4 still starts and then ap_start
    stays clear: the Vitis HLS ap_ctrl_hs register map."""
    ip, x, y = ip_design
    ip.reset()
    ip.load(_words(ip, x[:4]))
    ip.write(0x10, 1)
    ip.write(0x00, AP_START | AUTO_RESTART)
    ctrl = ip.read(0x00)
    assert ctrl & AP_START and ctrl & AUTO_RESTART
    while ip.probe("tlasts") < 2:  # runs of one sample each, back to back
        ip.tick()
    ip.write(0x00, 0)  # auto_restart off
    ip.tick(300)
    assert ip.probe("tlasts") == 4 and ip.read(0x00) & (AP_START | AP_IDLE | AUTO_RESTART) == AP_IDLE
    assert np.array_equal(_unpack(ip, ip.outputs(), 4), y[:4]) and ip.probe("error") == 0


def test_zero_samples_and_a_stalled_run(ip_design):
    ip, x, _ = ip_design
    ip.reset()
    ip.write(0x00, AP_START)  # n_samples 0: done within a few cycles, no beat moves
    ip.tick(4)
    assert ip.read(0x00) & (AP_DONE | AP_IDLE) == AP_DONE | AP_IDLE
    assert ip.probe("tlasts") == 0 and len(ip.outputs()) == 0
    # two samples announced, one sent: ap_idle stays low (what the driver's AcceleratorBusyError reads)
    ip.reset()
    ip.load(_words(ip, x[:1]))
    ip.write(0x10, 2)
    ip.write(0x00, AP_START)
    ip.tick(500)
    assert ip.read(0x00) & (AP_IDLE | AP_DONE) == 0 and ip.probe("tlasts") == 0


@pytest.mark.parametrize("stalls, seed", [((0, 0), 1), ((50, 30), 2), ((90, 90), 3)])
def test_batch_through_axilite_and_streams_equals_csim(ip_design, stalls, seed):
    """msq_axi_run as the driver runs a batch: ap_idle read, n_samples and ap_start written, ap_done polled while
    the streams move (random TVALID/TREADY stalls): outputs equal C-simulation, TLAST on the last beat only."""
    ip, x, y = ip_design
    assert np.array_equal(ip.predict(x, stalls=stalls, seed=seed), y)
    assert ip.cycles > 0
    assert np.array_equal(ip.predict(x[:1]), y[:1])


def test_ip_library_serves_the_driver_abi(ip_design):
    """libmsq_rtl_ip.so has the C-simulation bridge's ABI: msq_overlay.simlib runs it like libmsq_axi_sim.so."""
    from msq_overlay.simlib import library_format, run

    ip, x, y = ip_design
    fmt = library_format(ip.lib)
    d = ip.design
    assert fmt["n_in"] == d.in_format.count and fmt["out_beats"] == d.out_format.beats_per_sample
    words = _words(ip, x[:5])
    n, out = run(ip.lib, words, 5, 5 * d.out_format.beats_per_sample + 1)
    assert n == 5 * d.out_format.beats_per_sample and np.array_equal(_unpack(ip, out[:n], 5), y[:5])
    n, _ = run(ip.lib, words[:-1], 5, 100)  # a beat short: the run never finishes
    assert n == -1


def test_32_bit_beats_and_a_fully_parallel_design(tmp_path):
    """A design whose samples fit one 32-bit beat (4-bit TKEEP/TSTRB), fully parallel (Latency, RF 1): lint clean,
    batches through AXI-Lite + AXI-Stream equal C-simulation."""
    from flow.rtl import emit
    from flow.rtl.ip import RTLIP, emit_ip, lint_ip

    model = build((2, (6,), 1), 6, 0.5, seed=4)
    hm = convert(model, tmp_path / "hls", ConvertConfig(strategy="Latency", reuse_factor=1))
    design = emit(hm, tmp_path / "rtl")
    emit_ip(design)
    assert design.in_format.beat_bits == design.out_format.beat_bits == 32
    assert lint_ip(design) == []
    ip = RTLIP(design)
    x = grid_inputs(np.random.default_rng(2), 50, 2, frac_bits=5, lo=-4, hi=4)
    y = hm.predict(x).reshape(len(x), -1)
    assert np.array_equal(ip.predict(x, stalls=(40, 40), seed=7), y) and len(np.unique(y)) > 10


@pytest.mark.yosys
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed (apt-get install yosys)")
def test_axilite_slave_synthesizes_for_xc7(tmp_path):
    """The register map alone through yosys synth_xilinx: flip-flops only (no latch), about 83 of them (32 n_samples,
    32 read data, the control bits and the two handshake state machines), no DSP, a hundred-odd LUTs."""
    import subprocess

    from flow.rtl.axilite import AXILITE, emit_axilite, register_map
    from flow.rtl.synth import counts

    src, stat = tmp_path / "axilite.v", tmp_path / "stat.txt"
    src.write_text(emit_axilite(register_map()))
    subprocess.run(["yosys", "-q", "-p", f"read_verilog {src}; synth_xilinx -family xc7 -noiopad -top {AXILITE}; "
                    f"tee -q -o {stat} stat"], check=True, capture_output=True, timeout=300)
    text = stat.read_text()
    c = counts(text)
    assert 75 <= c["ff"] <= 90 and 0 < c["lut"] < 250 and c["dsp"] == 0 and c["bram18"] == c["bram36"] == 0
    assert not re.search(r"^\s+LD\w*\s+\d+", text, re.M)  # no latch

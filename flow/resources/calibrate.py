"""Measure processing-element costs with yosys (``synth_xilinx -family xc7``).

The blocks are static Verilog in ``flow/hls_templates/calibration/pe_blocks.v``; each run sets the
block's parameters with ``chparam``, synthesizes it alone (no I/O pads) and reads ``stat``.
The result is stored in ``flow/resources/calibration.json`` with the yosys version, and is what
the estimator uses. Regenerate with ``python -m flow calibrate`` where yosys is installed
(Debian: ``apt-get install yosys``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from flow.hls.microarch import plan_dsp_packing
from flow.package_data import CALIBRATION, TEMPLATES
from flow.quantizers import levels

VERILOG = TEMPLATES / "calibration" / "pe_blocks.v"
DATA_BITS = (8, 16)
WEIGHT_BITS = (4, 8)
WIDTHS = (8, 16, 24, 32)
#: Products the measured in-DSP packed accumulator sums (its shift comes from the packing plan).
PACKED_MAC_TERMS = 64


def runs() -> list[dict]:
    """Every (block, parameters, synthesis options) measured."""
    out = []
    for a in DATA_BITS:
        for k in WEIGHT_BITS:
            m1, m2 = levels.sp2_fields(k)
            out.append({"block": "fixed_mul_dsp", "module": "fixed_mul", "params": {"A": a, "K": k}, "nodsp": False})
            out.append({"block": "fixed_mul_lut", "module": "fixed_mul", "params": {"A": a, "K": k}, "nodsp": True})
            out.append({"block": "sp2_runtime", "module": "sp2_runtime", "params": {"A": a, "M1": m1, "M2": m2}, "nodsp": True})
        out.append({"block": "sp2_const", "module": "sp2_const", "params": {"A": a, "F1": 1, "F2": 3}, "nodsp": True})
    for a in DATA_BITS:
        for k in WEIGHT_BITS:
            pack, _ = plan_dsp_packing(k, a, True, 1)
            if pack is None:
                continue
            params = {"A": a, "K": k, "S": pack.shift}
            out.append({"block": "packed_mul_dsp", "module": "packed_mul", "params": params, "nodsp": False})
            out.append({"block": "packed_mul_adder", "module": "packed_mul_adder", "params": params, "nodsp": False})
            mac, _ = plan_dsp_packing(k, a, True, PACKED_MAC_TERMS)
            if mac is not None and mac.in_dsp:
                params = {"A": a, "K": k, "S": mac.shift}
                out.append({"block": "packed_mac_dsp", "module": "packed_mac", "params": params, "nodsp": False})
    for w in WIDTHS:
        out.append({"block": "adder", "module": "adder", "params": {"W": w}, "nodsp": True})
        out.append({"block": "accumulator", "module": "accumulator", "params": {"W": w}, "nodsp": True})
    out.append({"block": "xnor_popcount", "module": "xnor_popcount", "params": {"N": 64}, "nodsp": True})
    out.append({"block": "popcount", "module": "popcount", "params": {"N": 64}, "nodsp": True})
    return out


def yosys_version(yosys: str = "yosys") -> str:
    return subprocess.run([yosys, "-V"], check=True, capture_output=True, text=True).stdout.strip()


def require_yosys() -> str:
    path = shutil.which("yosys")
    if path is None:
        raise FileNotFoundError(
            "yosys is not on PATH; install it (Debian/Ubuntu: `apt-get install yosys`, 0.23 works) to run calibrate"
        )
    return path


def parse_stat(text: str) -> dict[str, int]:
    """LUT (all sizes), FF (all FD*), DSP48E1, CARRY4, MUXF7/8 and INV counts from yosys ``stat``.

    ``inv`` (yosys' inverter cell) is kept apart from ``lut``: next to other logic Vivado folds an
    inverter into the LUT it feeds, alone it is a LUT1."""
    cells = {name: int(count) for name, count in re.findall(r"^\s+(\w+)\s+(\d+)\s*$", text, flags=re.M)}
    return {
        "lut": sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d", k)),
        "inv": cells.get("INV", 0),
        "ff": sum(v for k, v in cells.items() if k.startswith("FD")),
        "dsp": cells.get("DSP48E1", 0),
        "carry4": cells.get("CARRY4", 0),
        "muxf": cells.get("MUXF7", 0) + cells.get("MUXF8", 0),
    }


def synthesize(run: dict, yosys: str, workdir: Path) -> dict:
    stat = workdir / f"{run['block']}_{'_'.join(f'{k}{v}' for k, v in run['params'].items())}.txt"
    chparam = " ".join(f"-set {k} {v}" for k, v in run["params"].items())
    script = (
        f"read_verilog {VERILOG}; chparam {chparam} {run['module']}; "
        f"synth_xilinx -family xc7 -noiopad {'-nodsp ' if run['nodsp'] else ''}-top {run['module']}; "
        f"tee -q -o {stat} stat"
    )
    proc = subprocess.run([yosys, "-q", "-p", script], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"yosys failed on {run['block']} {run['params']}:\n{proc.stderr[-2000:]}")
    return {"block": run["block"], "params": run["params"], **parse_stat(stat.read_text())}


def calibrate(output: Path | None = CALIBRATION, jobs: int = 2) -> dict:
    """Run every block through yosys; write (unless ``output`` is None) and return the table."""
    yosys = require_yosys()
    todo = runs()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(jobs) as pool:
        results = list(tqdm(pool.map(lambda r: synthesize(r, yosys, Path(tmp)), todo), total=len(todo), desc="yosys"))
    table = {"yosys": yosys_version(yosys), "family": "xc7", "blocks": results}
    if output is not None:
        Path(output).write_text(json.dumps(table, indent=1) + "\n")
    return table


def load_calibration(path: Path = CALIBRATION) -> dict:
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} is missing; run `python -m flow calibrate` where yosys is installed")
    return json.loads(Path(path).read_text())

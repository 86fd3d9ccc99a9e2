"""A minimal hardware handoff (``.hwh``) written from the overlay manifest, in Vivado's format.

Vivado writes the real ``.hwh`` next to the bitstream; this one exists for the places where no
Vivado has run (the simulated device, tests of the driver's metadata handling). It describes the
block design ``tcl/vivado_block_design.tcl`` builds, from the manifest alone: the Zynq-7000 PS
(``processing_system7``), the AXI DMA in simple mode with the widths, transfer length and DRE
the manifest records, and the accelerator with its AXI-lite register map, at the addresses
Vivado's address editor gives them on ``M_AXI_GP0``. pynq's own parsers read it into an
``ip_dict``::

    write_hwh(load_manifest("build/overlay"), "msq_accel.sim.hwh")

It is not a substitute for Vivado's: it has no nets, ports or interrupts, and the addresses are
Vivado's defaults, not read from an implemented design.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

from msq_overlay.manifest import check_manifest, load_manifest

DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
PS7_VLNV = "xilinx.com:ip:processing_system7:5.5"
PS7_NAME = "processing_system7_0"
#: Vivado's address editor on a Zynq-7000 M_AXI_GP0: the AXI DMA's preferred base, then HLS IPs
DMA_BASE = 0x40400000
IP_BASE = 0x43C00000
ADDR_RANGE = 0x10000
#: the Vitis HLS name of the ``s_axilite`` control bundle (the Tcl connects the same interface)
IP_AXI_LITE = "s_axi_control"
#: the IO PLL the PYNQ-Z1/Z2 board presets run (33.33 MHz crystal x 48); the PL clocks divide it
IO_PLL_MHZ = 1600.0

# AXI DMA simple-mode registers (PG021): name, offset, fields {name: (bit offset, bit width, access)}
_CR_FIELDS = {"RS": (0, 1, "read-write"), "Reset": (2, 1, "read-write"), "Keyhole": (3, 1, "read-write"),
              "IOC_IrqEn": (12, 1, "read-write"), "Err_IrqEn": (14, 1, "read-write")}
_SR_FIELDS = {"Halted": (0, 1, "read-only"), "Idle": (1, 1, "read-only"), "DMAIntErr": (4, 1, "read-only"),
              "DMASlvErr": (5, 1, "read-only"), "DMADecErr": (6, 1, "read-only"),
              "IOC_Irq": (12, 1, "read-write"), "Err_Irq": (14, 1, "read-write")}
_CTRL_FIELDS = {"AP_START": (0, 1, "read-write"), "AP_DONE": (1, 1, "read-only"), "AP_IDLE": (2, 1, "read-only"),
                "AP_READY": (3, 1, "read-only"), "AUTO_RESTART": (7, 1, "read-write")}


def dma_parameters(manifest: dict) -> dict:
    """The AXI DMA's configuration parameters (lower-case, as pynq's DMA driver reads them) from a manifest."""
    dma = manifest["dma"]
    return {
        "c_include_sg": "0",
        "c_micro_dma": "0",
        "c_sg_length_width": str(dma["length_width"]),
        "c_include_mm2s": "1",
        "c_include_s2mm": "1",
        "c_m_axi_mm2s_data_width": str(dma["mm2s_mm_bits"]),
        "c_m_axi_s2mm_data_width": str(dma["s2mm_mm_bits"]),
        "c_m_axis_mm2s_tdata_width": str(dma["mm2s_stream_bits"]),
        "c_s_axis_s2mm_tdata_width": str(dma["s2mm_stream_bits"]),
        "c_include_mm2s_dre": "1" if dma["dre"] else "0",
        "c_include_s2mm_dre": "1" if dma["dre"] else "0",
        "c_addr_width": "32",
    }


def instance_name(fullname: str) -> str:
    """Vivado's INSTANCE for a cell: its block-design path with ``/`` as ``_``."""
    return fullname.strip("/").replace("/", "_")


def _system_info(part: str, name: str) -> dict:
    match = re.fullmatch(r"xc(7z\d+)([a-z]+\d+)(-\d+)", part.lower())
    if not match:
        raise ValueError(f"write_hwh describes Zynq-7000 designs (processing_system7); part {part!r} is not one")
    device, package, speed = match.groups()
    return {"ARCH": "zynq", "DEVICE": device, "NAME": name, "PACKAGE": package, "SPEEDGRADE": speed}


def _fclk_divisors(clock_mhz: float) -> tuple[int, int]:
    """Two 6-bit divisors of the IO PLL closest to ``clock_mhz``, as even as possible (100 MHz: 4 and 4)."""
    _, _, a, b = min((abs(IO_PLL_MHZ / (a * b) - clock_mhz), b, a, b) for a in range(1, 64) for b in range(a, 64))
    return a, b


def _parameters(parent, params: dict):
    node = ET.SubElement(parent, "PARAMETERS")
    for name, value in params.items():
        ET.SubElement(node, "PARAMETER", NAME=name, VALUE=str(value))
    return node


def _register(parent, name, offset, description, fields, size=32, access="read-write"):
    reg = ET.SubElement(parent, "REGISTER", NAME=name)
    for key, value in (("DESCRIPTION", description), ("ADDRESS_OFFSET", hex(offset)), ("SIZE", size),
                       ("ACCESS", access), ("IS_ENABLED", "true"), ("RESET_VALUE", "0x0")):
        ET.SubElement(reg, "PROPERTY", NAME=key, VALUE=str(value))
    node = ET.SubElement(reg, "FIELDS")
    for fname, (bit, width, faccess) in fields.items():
        field = ET.SubElement(node, "FIELD", NAME=fname)
        for key, value in (("DESCRIPTION", f"{name}.{fname}"), ("ADDRESS_OFFSET", bit), ("ACCESS", faccess),
                           ("BIT_OFFSET", bit), ("BIT_WIDTH", width)):
            ET.SubElement(field, "PROPERTY", NAME=key, VALUE=str(value))


def _address_block(module, interface, rng, registers):
    blocks = ET.SubElement(module, "ADDRESSBLOCKS")
    block = ET.SubElement(blocks, "ADDRESSBLOCK", ACCESS="read-write", INTERFACE=interface, NAME="Reg",
                          RANGE=str(rng), USAGE="register")
    regs = ET.SubElement(block, "REGISTERS")
    for args in registers:
        _register(regs, *args)


def _bus(parent, name, kind, vlnv_name, width=None, params=None):
    attrs = {"BUSNAME": f"{name}_bus", "NAME": name, "TYPE": kind, "VLNV": f"xilinx.com:interface:{vlnv_name}:1.0"}
    if width is not None:
        attrs["DATAWIDTH"] = str(width)
    bus = ET.SubElement(parent, "BUSINTERFACE", **attrs)
    for key, value in (params or {}).items():
        ET.SubElement(bus, "PARAMETER", NAME=key, VALUE=str(value))
    ET.SubElement(bus, "PORTMAPS")
    return bus


def _module(parent, fullname, vlnv, modtype, **extra):
    version = vlnv.split(":")[3]
    attrs = {"FULLNAME": "/" + fullname.strip("/"), "HWVERSION": version, "INSTANCE": instance_name(fullname),
             "IPTYPE": "PERIPHERAL", "IS_ENABLE": "1", "MODCLASS": "PERIPHERAL", "MODTYPE": modtype, "VLNV": vlnv}
    attrs.update(extra)
    module = ET.SubElement(parent, "MODULE", **attrs)
    ET.SubElement(module, "DOCUMENTS")
    return module


def _memrange(parent, master, instance, slave, base, high, memtype, block, basename="C_BASEADDR",
              highname="C_HIGHADDR"):
    ET.SubElement(parent, "MEMRANGE", ADDRESSBLOCK=block, BASENAME=basename, BASEVALUE=f"0x{base:08X}",
                  HIGHNAME=highname, HIGHVALUE=f"0x{high:08X}", INSTANCE=instance, IS_DATA="TRUE",
                  IS_INSTRUCTION="TRUE", MASTERBUSINTERFACE=master, MEMTYPE=memtype, SLAVEBUSINTERFACE=slave)


def hwh_tree(manifest: dict, dma_base: int = DMA_BASE, ip_base: int = IP_BASE) -> ET.ElementTree:
    """The ``.hwh`` document for a manifest (a dict as in the JSON file, or as ``load_manifest`` returns it)."""
    m = manifest if "input_spec" in manifest else check_manifest(manifest)
    dma, ip = m["dma"], m["ip"]
    where = m.get("path", "<manifest>")
    vlnv = ip.get("vlnv")
    if not vlnv or len(vlnv.split(":")) != 4:
        raise ValueError(f"overlay manifest {where}: 'ip.vlnv' (vendor:library:name:version) is needed for the .hwh")
    if dma_base % ADDR_RANGE or ip_base % ADDR_RANGE or abs(dma_base - ip_base) < ADDR_RANGE:
        raise ValueError(f"write_hwh: DMA base 0x{dma_base:x} and IP base 0x{ip_base:x} must be distinct 64 KiB blocks")
    bd_name = m.get("bd_name") or m["overlay"]
    dma_inst, ip_inst = instance_name(dma["name"]), instance_name(ip["name"])

    root = ET.Element("EDKSYSTEM", EDWVERSION="1.2")
    root.append(ET.Comment(
        " Written by msq_overlay.hwh from the overlay manifest, not by Vivado: the block design of "
        "tcl/vivado_block_design.tcl at Vivado's default addresses, without nets, ports or interrupts. "
    ))
    ET.SubElement(root, "SYSTEMINFO", **_system_info(m["part"], bd_name))
    ET.SubElement(root, "EXTERNALPORTS")
    ET.SubElement(root, "EXTERNALINTERFACES")
    modules = ET.SubElement(root, "MODULES")

    # -- the AXI DMA -----------------------------------------------------------------------------
    params = dma_parameters(m)
    module = _module(modules, dma["name"], DMA_VLNV, "axi_dma")
    _parameters(module, {**{k.upper(): v for k, v in params.items()}, **params, "EDK_IPTYPE": "PERIPHERAL",
                         "C_BASEADDR": f"0x{dma_base:08X}", "C_HIGHADDR": f"0x{dma_base + ADDR_RANGE - 1:08X}"})
    length = {"Length": (0, dma["length_width"], "read-write")}
    address = {"Address": (0, 32, "read-write")}
    registers = []
    for prefix, base, addr in (("MM2S", 0x00, "SA"), ("S2MM", 0x30, "DA")):
        registers += [
            (f"{prefix}_DMACR", base + 0x00, f"{prefix} DMA Control Register", _CR_FIELDS),
            (f"{prefix}_DMASR", base + 0x04, f"{prefix} DMA Status Register", _SR_FIELDS),
            (f"{prefix}_{addr}", base + 0x18, f"{prefix} Address (lower 32 bits)", address),
            (f"{prefix}_{addr}_MSB", base + 0x1C, f"{prefix} Address (upper 32 bits)", address),
            (f"{prefix}_LENGTH", base + 0x28, f"{prefix} Buffer Length (bytes)", length),
        ]
    _address_block(module, "S_AXI_LITE", 4096, registers)
    memmap = ET.SubElement(module, "MEMORYMAP")
    for master in ("M_AXI_MM2S", "M_AXI_S2MM"):
        _memrange(memmap, master, PS7_NAME, "S_AXI_HP0", 0x0, 0x1FFFFFFF, "MEMORY", "HP0_DDR_LOWOCM")
    ET.SubElement(module, "PORTS")
    buses = ET.SubElement(module, "BUSINTERFACES")
    _bus(buses, "S_AXI_LITE", "SLAVE", "aximm", 32, {"DATA_WIDTH": 32, "PROTOCOL": "AXI4LITE"})
    _bus(buses, "M_AXI_MM2S", "MASTER", "aximm", dma["mm2s_mm_bits"], {"DATA_WIDTH": dma["mm2s_mm_bits"], "PROTOCOL": "AXI4"})
    _bus(buses, "M_AXI_S2MM", "MASTER", "aximm", dma["s2mm_mm_bits"], {"DATA_WIDTH": dma["s2mm_mm_bits"], "PROTOCOL": "AXI4"})
    _bus(buses, "M_AXIS_MM2S", "INITIATOR", "axis", None, {"TDATA_NUM_BYTES": dma["mm2s_stream_bits"] // 8, "HAS_TLAST": 1})
    _bus(buses, "S_AXIS_S2MM", "TARGET", "axis", None, {"TDATA_NUM_BYTES": dma["s2mm_stream_bits"] // 8, "HAS_TLAST": 1})

    # -- the accelerator -------------------------------------------------------------------------
    module = _module(modules, ip["name"], vlnv, vlnv.split(":")[2])
    upper = IP_AXI_LITE.upper()
    _parameters(module, {f"C_{upper}_BASEADDR": f"0x{ip_base:08X}", f"C_{upper}_HIGHADDR": f"0x{ip_base + ADDR_RANGE - 1:08X}",
                         "EDK_IPTYPE": "PERIPHERAL"})
    registers = [("CTRL", ip["registers"]["ctrl"], "Control signals", _CTRL_FIELDS)]
    for name, offset in sorted(ip["registers"].items(), key=lambda kv: kv[1]):
        if name != "ctrl":
            registers.append((name, offset, f"Data signal of {name}", {name: (0, 32, "read-write")}))
    _address_block(module, IP_AXI_LITE, ADDR_RANGE, registers)
    ET.SubElement(module, "PORTS")
    buses = ET.SubElement(module, "BUSINTERFACES")
    _bus(buses, IP_AXI_LITE, "SLAVE", "aximm", 32, {"DATA_WIDTH": 32, "PROTOCOL": "AXI4LITE"})

    # -- the processing system -------------------------------------------------------------------
    module = _module(modules, PS7_NAME, PS7_VLNV, "processing_system7", IS_PL="FALSE")
    del module.attrib["MODCLASS"]
    clock_mhz = float(m.get("clock_mhz") or 100.0)
    d0, d1 = _fclk_divisors(clock_mhz)
    ps = {"PCW_IO_IO_PLL_FREQMHZ": f"{IO_PLL_MHZ:.3f}", "PCW_USE_M_AXI_GP0": "1", "PCW_USE_S_AXI_HP0": "1",
          "PCW_S_AXI_HP0_DATA_WIDTH": "64", "PCW_FPGA0_PERIPHERAL_FREQMHZ": f"{clock_mhz:g}",
          "PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ": f"{IO_PLL_MHZ / (d0 * d1):.6f}"}
    for i in range(4):
        ps[f"PCW_FPGA_FCLK{i}_ENABLE"] = "1" if i == 0 else "0"
        ps[f"PCW_FCLK{i}_PERIPHERAL_CLKSRC"] = "IO PLL"
        ps[f"PCW_FCLK{i}_PERIPHERAL_DIVISOR0"] = str(d0 if i == 0 else 1)
        ps[f"PCW_FCLK{i}_PERIPHERAL_DIVISOR1"] = str(d1 if i == 0 else 1)
    _parameters(module, ps)
    memmap = ET.SubElement(module, "MEMORYMAP")
    _memrange(memmap, "M_AXI_GP0", dma_inst, "S_AXI_LITE", dma_base, dma_base + ADDR_RANGE - 1, "REGISTER", "Reg")
    _memrange(memmap, "M_AXI_GP0", ip_inst, IP_AXI_LITE, ip_base, ip_base + ADDR_RANGE - 1, "REGISTER", "Reg",
              f"C_{upper}_BASEADDR", f"C_{upper}_HIGHADDR")
    ET.SubElement(module, "PORTS")
    buses = ET.SubElement(module, "BUSINTERFACES")
    _bus(buses, "M_AXI_GP0", "MASTER", "aximm", 32, {"DATA_WIDTH": 32, "PROTOCOL": "AXI3"})
    _bus(buses, "S_AXI_HP0", "SLAVE", "aximm", 64, {"DATA_WIDTH": 64, "PROTOCOL": "AXI3"})

    tree = ET.ElementTree(root)
    ET.indent(tree, space="  ")
    return tree


def write_hwh(manifest, path, dma_base: int = DMA_BASE, ip_base: int = IP_BASE) -> Path:
    """Write the ``.hwh`` for ``manifest`` (a dict, or a manifest file or directory) to ``path``."""
    if not isinstance(manifest, dict):
        manifest = load_manifest(manifest)
    path = Path(path)
    tree = hwh_tree(manifest, dma_base, ip_base)
    with open(path, "wb") as fh:
        tree.write(fh, encoding="UTF-8", xml_declaration=True)
        fh.write(b"\n")
    return path

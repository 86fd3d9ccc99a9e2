# Vivado: Zynq PS7 + AXI DMA (simple mode) + the accelerator IP, bitstream and .hwh (static script).
# The IP is Vitis HLS' export (hls_synth) or, with `flow build --rtl`, the RTL route's (tcl/rtl_package_ip.tcl):
# the same VLNV scheme, interface names and register map, from build_vars.tcl ($ip_repo, $ip_vlnv).
# Every name and number comes from build_vars.tcl, written by `python -m flow build`.
# Written for Vivado 2020.2-2024.2 (the .gen/ project layout; the older .srcs/ one is still found).
# Run from the build directory:  vivado -mode batch -source tcl/vivado_block_design.tcl
source [file join [file dirname [file normalize [info script]]] .. build_vars.tcl]

create_project $vivado_project $vivado_dir -part $part -force
if {$board_part ne ""} {
    if {[llength [get_board_parts -quiet $board_part]] == 0} {
        error "board files for $board_part are not installed in this Vivado; install them (e.g. from the board vendor) and rerun"
    }
    set_property board_part $board_part [current_project]
}
set_property ip_repo_paths [list [file normalize $ip_repo]] [current_project]
update_ip_catalog

create_bd_design $bd_name

# Zynq PS7: DDR/MIO from the board preset, HP0 for the DMA, FCLK_CLK0 at the fabric clock.
set ps_name processing_system7_0
set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 $ps_name]
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config [list make_external "FIXED_IO, DDR" apply_board_preset [expr {$board_part ne "" ? 1 : 0}] \
                 Master Disable Slave Disable] $ps
set_property -dict [list CONFIG.PCW_USE_S_AXI_HP0 {1} CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $fclk_mhz] $ps

# AXI DMA 7.1 (PG021) in simple mode. Streams are the accelerator's beats (32 or 64 bits, several values
# each); the memory-mapped side is at least as wide (never narrower than the stream); DRE as build_vars says.
# Every width is set (VALUE_SRC USER) so Vivado's propagation cannot change it behind the driver's back.
set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 $dma_instance]
set_property -dict [list \
    CONFIG.c_m_axis_mm2s_tdata_width.VALUE_SRC USER CONFIG.c_m_axi_mm2s_data_width.VALUE_SRC USER \
    CONFIG.c_s_axis_s2mm_tdata_width.VALUE_SRC USER CONFIG.c_m_axi_s2mm_data_width.VALUE_SRC USER] $dma
set_property -dict [list \
    CONFIG.c_include_sg {0} \
    CONFIG.c_sg_include_stscntrl_strm {0} \
    CONFIG.c_sg_length_width $dma_length_width \
    CONFIG.c_m_axi_mm2s_data_width $dma_mm2s_mm_bits \
    CONFIG.c_m_axis_mm2s_tdata_width $dma_mm2s_stream_bits \
    CONFIG.c_include_mm2s_dre $dma_dre \
    CONFIG.c_mm2s_burst_size {16} \
    CONFIG.c_m_axi_s2mm_data_width $dma_s2mm_mm_bits \
    CONFIG.c_s_axis_s2mm_tdata_width $dma_s2mm_stream_bits \
    CONFIG.c_include_s2mm_dre $dma_dre \
    CONFIG.c_s2mm_burst_size {16}] $dma

set accel [create_bd_cell -type ip -vlnv $ip_vlnv $ip_instance]

# Clock and reset first, while ap_clk is unconnected: FCLK_CLK0 and a processor-system reset,
# which the AXI automation below reuses for the DMA and the interconnects.
apply_bd_automation -rule xilinx.com:bd_rule:clkrst -config [list Clk /$ps_name/FCLK_CLK0] \
    [get_bd_pins $ip_instance/ap_clk]

# AXI connections by automation, with the per-side clock keys Clk_master/Clk_slave/Clk_xbar of current Vivado
# releases (the single Clk key of old scripts is not used).
# Control: PS GP0 -> DMA and accelerator registers. Data: both DMA masters -> HP0; the first is applied
# to the HP0 slave pin as Vivado's own scripts do, the second joins the interconnect it made.
proc axi_auto {master slave target} {
    apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
        -config [list Clk_master Auto Clk_slave Auto Clk_xbar Auto Master $master Slave $slave \
                     intc_ip Auto master_apm 0] $target
}
axi_auto /$ps_name/M_AXI_GP0 /$dma_instance/S_AXI_LITE [get_bd_intf_pins $dma_instance/S_AXI_LITE]
axi_auto /$ps_name/M_AXI_GP0 /$ip_instance/$ctrl_port [get_bd_intf_pins $ip_instance/$ctrl_port]
axi_auto /$dma_instance/M_AXI_MM2S /$ps_name/S_AXI_HP0 [get_bd_intf_pins $ps_name/S_AXI_HP0]
axi_auto /$dma_instance/M_AXI_S2MM /$ps_name/S_AXI_HP0 [get_bd_intf_pins $dma_instance/M_AXI_S2MM]

# Streams: DMA MM2S -> accelerator -> DMA S2MM.
connect_bd_intf_net [get_bd_intf_pins $dma_instance/M_AXIS_MM2S] [get_bd_intf_pins $ip_instance/$in_port]
connect_bd_intf_net [get_bd_intf_pins $ip_instance/$out_port] [get_bd_intf_pins $dma_instance/S_AXIS_S2MM]

assign_bd_address
validate_bd_design
save_bd_design

# HDL wrapper: make_wrapper returns its path (under <project>.gen/ since Vivado 2020; .srcs/ before).
set wrapper [make_wrapper -files [get_files $bd_name.bd] -top]
add_files -norecurse $wrapper
set_property top ${bd_name}_wrapper [current_fileset]

launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
    error "implementation did not finish; see $vivado_dir/$vivado_project.runs/impl_1/runme.log"
}
set impl_dir [get_property DIRECTORY [get_runs impl_1]]
file copy -force [file join $impl_dir ${bd_name}_wrapper.bit] $bit_out

# Hardware handoff for PYNQ: <project>.gen/ (Vivado 2020.2+) or <project>.srcs/ (older layouts).
set handoffs {}
set hwh ""
foreach tree [list $vivado_project.gen $vivado_project.srcs] {
    set candidate [file join $vivado_dir $tree sources_1 bd $bd_name hw_handoff $bd_name.hwh]
    lappend handoffs $candidate
    if {$hwh eq "" && [file exists $candidate]} {
        set hwh $candidate
    }
}
if {$hwh eq ""} {
    error "Vivado wrote no hardware handoff; looked for [join $handoffs { and }]"
}
file copy -force $hwh $hwh_out
exit

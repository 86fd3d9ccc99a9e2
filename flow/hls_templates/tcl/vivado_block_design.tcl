# Vivado: Zynq PS7 + AXI DMA (simple mode) + the HLS accelerator, bitstream and .hwh (static script).
# Every name and number comes from build_vars.tcl, written by `python -m flow build`.
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
set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 processing_system7_0]
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config {make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"} $ps
set_property -dict [list CONFIG.PCW_USE_S_AXI_HP0 {1} CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $fclk_mhz] $ps

set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 $dma_instance]
set_property -dict [list \
    CONFIG.c_include_sg {0} \
    CONFIG.c_sg_length_width $dma_length_width \
    CONFIG.c_m_axis_mm2s_tdata_width $in_lane_bits \
    CONFIG.c_s_axis_s2mm_tdata_width $out_lane_bits \
    CONFIG.c_mm2s_burst_size {16} \
    CONFIG.c_s2mm_burst_size {16}] $dma

set accel [create_bd_cell -type ip -vlnv $ip_vlnv $ip_instance]

apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config [list Master /processing_system7_0/M_AXI_GP0 Clk Auto] [get_bd_intf_pins $dma_instance/S_AXI_LITE]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config [list Master /processing_system7_0/M_AXI_GP0 Clk Auto] [get_bd_intf_pins $ip_instance/s_axi_control]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config [list Slave /processing_system7_0/S_AXI_HP0 Clk Auto] [get_bd_intf_pins $dma_instance/M_AXI_MM2S]
apply_bd_automation -rule xilinx.com:bd_rule:axi4 \
    -config [list Slave /processing_system7_0/S_AXI_HP0 Clk Auto] [get_bd_intf_pins $dma_instance/M_AXI_S2MM]

connect_bd_intf_net [get_bd_intf_pins $dma_instance/M_AXIS_MM2S] [get_bd_intf_pins $ip_instance/$in_port]
connect_bd_intf_net [get_bd_intf_pins $ip_instance/$out_port] [get_bd_intf_pins $dma_instance/S_AXIS_S2MM]
apply_bd_automation -rule xilinx.com:bd_rule:clkrst -config [list Clk /processing_system7_0/FCLK_CLK0] \
    [get_bd_pins $ip_instance/ap_clk]

validate_bd_design
save_bd_design

set bd_file [get_files $bd_name.bd]
make_wrapper -files $bd_file -top
add_files -norecurse [file join [file dirname $bd_file] hdl ${bd_name}_wrapper.v]
set_property top ${bd_name}_wrapper [current_fileset]

launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
    error "implementation did not finish; see $vivado_dir/$vivado_project.runs/impl_1/runme.log"
}
set impl_dir [get_property DIRECTORY [get_runs impl_1]]
file copy -force [file join $impl_dir ${bd_name}_wrapper.bit] $bit_out
set hwh [lindex [glob -nocomplain [file join $vivado_dir $vivado_project.gen sources_1 bd $bd_name hw_handoff $bd_name.hwh] \
                                  [file join $vivado_dir $vivado_project.srcs sources_1 bd $bd_name hw_handoff $bd_name.hwh]] 0]
if {$hwh eq ""} {
    error "no hardware handoff ($bd_name.hwh) was written"
}
file copy -force $hwh $hwh_out
exit

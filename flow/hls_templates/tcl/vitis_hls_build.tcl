# Vitis HLS: synthesize the accelerator top and export it as an IP (static script).
# Every name and number comes from build_vars.tcl, written by `python -m flow build`.
# Written for Vitis HLS 2020.2-2024.2 (-flow_target vivado: an IP for the Vivado IP catalog).
# Run from the build directory:  vitis_hls -f tcl/vitis_hls_build.tcl
source [file join [file dirname [file normalize [info script]]] .. build_vars.tcl]

open_project -reset $hls_project
set_top $top_name
foreach src $hls_sources {
    add_files $src -cflags $hls_cflags
}
open_solution -reset solution1 -flow_target vivado
set_part $part
create_clock -period $clock_period_ns -name default
csynth_design
export_design -format ip_catalog -rtl verilog -vendor $ip_vendor -library $ip_library -ipname $ip_name -version $ip_version
exit

# Runs a static build script under plain tclsh with the Vitis HLS / Vivado commands stubbed, strictly.
# Usage (from the build directory):  tclsh vendor_stub.tcl SCRIPT
#
#  * Only the commands defined below with `stub::command` exist; any other command fails, naming it.
#    Unknown options, missing arguments and unknown AXI DMA parameters fail too.
#  * The stubs keep a simulated project tree with the Vivado 2020.2+ layout and fail where Vivado would:
#    export_design writes <hls_project>/<solution>/impl/ip/component.xml and update_ip_catalog reads it
#    (create_bd_cell only knows catalog IPs); save_bd_design writes <prj>.srcs/sources_1/bd/<bd>/<bd>.bd;
#    make_wrapper writes <prj>.gen/sources_1/bd/<bd>/hdl/<bd>_wrapper.v and returns its path; add_files
#    needs every file to exist; launch_runs writes <prj>.runs/impl_1/<top>.bit and
#    <prj>.gen/sources_1/bd/<bd>/hw_handoff/<bd>.hwh.
#  * apply_bd_automation knows the processing_system7, axi4 and clkrst rules with their current keys
#    (axi4: Clk_master/Clk_slave/Clk_xbar, a bare Clk is an error); it tracks which clock pins are driven
#    (clkrst on a driven pin is an error); validate_bd_design wants every used clock driven, both DMA
#    streams connected, and the DMA's widths and DRE set explicitly with memory-mapped >= stream width.
#
#  * The IP packager (ipx::) infers bus interfaces from the RTL top's port names and checks the IP's
#    integrity (clocks associated, reset polarity, FREQ_HZ, the AXI4-Lite memory map) before save_core.
#
# Outputs in the current directory: calls.log (every stubbed call, one line, words space-separated) and
# bd_cells.log (each block design cell's final settings: cell TAB property TAB value; property VLNV too).

namespace eval stub {
    variable known {}        ;# the stubbed commands
    variable calls [open calls.log w]
    variable hls [dict create]   ;# project solution top part clock sources synthesized
    variable prj [dict create]   ;# name dir board_part ip_repo_paths top
    variable catalog {xilinx.com:ip:processing_system7:5.5 xilinx.com:ip:axi_dma:7.1}
    variable bd ""           ;# block design name
    variable cells [dict create]   ;# cell -> vlnv
    variable config [dict create]  ;# cell -> {CONFIG.x value ...}
    variable driven [dict create]  ;# cell/clock pin -> who drove it
    variable nets [dict create]    ;# intf pin -> intf pin (both directions)
    variable files {}        ;# files added to the Vivado project
    variable runs [dict create]    ;# run -> launched|done
    variable validated 0

    # PG021 (AXI DMA 7.1) parameter names the stub accepts, and the interfaces/pins of the Xilinx IPs used.
    variable dma_params {c_include_sg c_sg_length_width c_sg_include_stscntrl_strm c_sg_use_stsapp_length
        c_enable_multi_channel c_micro_dma c_addr_width c_dlytmr_resolution c_prmry_is_aclk_async
        c_include_mm2s c_include_mm2s_dre c_m_axi_mm2s_data_width c_m_axis_mm2s_tdata_width c_mm2s_burst_size
        c_num_mm2s_channels c_include_s2mm c_include_s2mm_dre c_m_axi_s2mm_data_width c_s_axis_s2mm_tdata_width
        c_s2mm_burst_size c_num_s2mm_channels c_increase_throughput}
    variable ports {
        axi_dma {intf {S_AXI_LITE M_AXI_MM2S M_AXI_S2MM M_AXIS_MM2S S_AXIS_S2MM M_AXI_SG}
                 pin {s_axi_lite_aclk m_axi_mm2s_aclk m_axi_s2mm_aclk m_axi_sg_aclk axi_resetn mm2s_introut s2mm_introut}}
        processing_system7 {intf {M_AXI_GP0 M_AXI_GP1 S_AXI_GP0 S_AXI_GP1 S_AXI_HP0 S_AXI_HP1 S_AXI_HP2 S_AXI_HP3
                                  S_AXI_ACP DDR FIXED_IO}
                            pin {FCLK_CLK0 FCLK_CLK1 FCLK_CLK2 FCLK_CLK3 FCLK_RESET0_N M_AXI_GP0_ACLK
                                 M_AXI_GP1_ACLK S_AXI_HP0_ACLK S_AXI_HP1_ACLK S_AXI_HP2_ACLK S_AXI_HP3_ACLK IRQ_F2P}}
        hls {pin {ap_clk ap_rst_n interrupt}}
    }
}

proc stub::fail {msg} {
    error "vendor_stub: [lindex [info level -1] 0]: $msg"
}

# Defines a stubbed command: records each call in calls.log, then runs body.
proc stub::command {name params body} {
    variable known
    lappend known $name
    proc ::$name $params "stub::record \[info level 0\]\n$body"
}

proc stub::record {words} {
    variable calls
    puts $calls [join $words " "]
}

# Splits argv by spec (option -> 1 takes a value, 0 is a flag): returns {options positionals};
# unknown options and a positional count outside lo..hi (hi -1: any) fail.
proc stub::parse {argv spec lo hi} {
    set opts [dict create]
    set pos {}
    for {set i 0} {$i < [llength $argv]} {incr i} {
        set a [lindex $argv $i]
        if {[string match -* $a] && ![string is double -strict $a]} {
            if {![dict exists $spec $a]} { uplevel 1 [list stub::fail "unknown option $a"] }
            if {[dict get $spec $a]} {
                if {[incr i] >= [llength $argv]} { uplevel 1 [list stub::fail "option $a needs a value"] }
                dict set opts $a [lindex $argv $i]
            } else {
                dict set opts $a 1
            }
        } else {
            lappend pos $a
        }
    }
    if {[llength $pos] < $lo || ($hi >= 0 && [llength $pos] > $hi)} {
        uplevel 1 [list stub::fail "takes $lo..[expr {$hi < 0 ? "n" : $hi}] arguments, got [llength $pos]: $pos"]
    }
    return [list $opts $pos]
}

proc stub::need {cond msg} {
    if {![uplevel 1 [list expr $cond]]} { uplevel 1 [list stub::fail $msg] }
}

proc stub::kind {cell} {
    variable cells
    set vlnv [dict get $cells $cell]
    if {[string match xilinx.com:ip:axi_dma* $vlnv]} { return axi_dma }
    if {[string match xilinx.com:ip:processing_system7* $vlnv]} { return processing_system7 }
    return hls
}

proc stub::cfg {cell key {default ""}} {
    variable config
    if {[dict exists $config $cell CONFIG.$key]} { return [dict get $config $cell CONFIG.$key] }
    return $default
}

# "/cell/pin" or "cell/pin" of an existing cell -> "cell/pin"; kind is intf or pin.
proc stub::pin {path kind} {
    variable cells
    variable ports
    set path [string trimleft $path /]
    set cell [file dirname $path]
    set name [file tail $path]
    if {![dict exists $cells $cell]} { uplevel 1 [list stub::fail "no block design cell '$cell' (in $path)"] }
    set k [kind $cell]
    if {[dict exists $ports $k $kind] && $name ni [dict get $ports $k $kind]} {
        uplevel 1 [list stub::fail "$k cell $cell has no $kind '$name'"]
    }
    if {$k eq "processing_system7" && [regexp {^(S_AXI_(HP|GP)[0-3]|S_AXI_ACP|M_AXI_GP1)$} $name]} {
        if {[cfg $cell PCW_USE_$name 0] != 1} {
            uplevel 1 [list stub::fail "$path does not exist until CONFIG.PCW_USE_$name is 1"]
        }
    }
    return $path
}

# The clock pin an AXI interface is synchronous to.
proc stub::clock_of {path} {
    set cell [file dirname $path]
    set name [file tail $path]
    switch -- [kind $cell] {
        axi_dma {
            return $cell/[dict get {S_AXI_LITE s_axi_lite_aclk M_AXI_MM2S m_axi_mm2s_aclk M_AXIS_MM2S m_axi_mm2s_aclk
                                   M_AXI_S2MM m_axi_s2mm_aclk S_AXIS_S2MM m_axi_s2mm_aclk M_AXI_SG m_axi_sg_aclk} $name]
        }
        processing_system7 { return $cell/${name}_ACLK }
        default { return $cell/ap_clk }
    }
}

proc stub::write_cells {} {
    variable cells
    variable config
    set out [open bd_cells.log w]
    dict for {cell vlnv} $cells {
        puts $out "$cell\tVLNV\t$vlnv"
        if {[dict exists $config $cell]} {
            dict for {key value} [dict get $config $cell] { puts $out "$cell\t$key\t$value" }
        }
    }
    close $out
}

proc stub::finish {code} {
    variable calls
    write_cells
    close $calls
    ::real_exit $code
}

proc unknown {cmd args} {
    if {[auto_load $cmd]} { return [uplevel 1 [list ::$cmd {*}$args]] }
    error "vendor_stub: unknown command '$cmd': not a Vivado / Vitis HLS command the stub knows ($stub::known)"
}

# ---------------------------------------------------------------- Vitis HLS
stub::command open_project {args} {
    lassign [stub::parse $args {-reset 0} 1 1] opts pos
    file mkdir [lindex $pos 0]
    dict set stub::hls project [lindex $pos 0]
}
stub::command set_top {args} {
    lassign [stub::parse $args {} 1 1] opts pos
    stub::need {[dict exists $stub::hls project]} "no project open"
    dict set stub::hls top [lindex $pos 0]
}
stub::command open_solution {args} {
    lassign [stub::parse $args {-reset 0 -flow_target 1} 1 1] opts pos
    stub::need {[dict exists $stub::hls project]} "no project open"
    stub::need {[dict get [dict merge {-flow_target vivado} $opts] -flow_target] in {vivado vitis}} "bad -flow_target"
    dict set stub::hls solution [lindex $pos 0]
}
stub::command set_part {args} {
    lassign [stub::parse $args {} 1 1] opts pos
    stub::need {[dict exists $stub::hls solution]} "no solution open"
    dict set stub::hls part [lindex $pos 0]
}
stub::command create_clock {args} {
    lassign [stub::parse $args {-period 1 -name 1} 0 0] opts pos
    stub::need {[dict exists $stub::hls solution]} "no solution open"
    stub::need {[dict exists $opts -period] && [string is double -strict [dict get $opts -period]] && [dict get $opts -period] > 0} \
        "needs a positive -period"
    dict set stub::hls clock [dict get $opts -period]
}
stub::command csynth_design {args} {
    stub::parse $args {} 0 0
    foreach key {top part clock sources} {
        stub::need {[dict exists $stub::hls $key]} "no $key set before synthesis"
    }
    dict set stub::hls synthesized 1
}
stub::command export_design {args} {
    lassign [stub::parse $args {-format 1 -rtl 1 -vendor 1 -library 1 -ipname 1 -version 1 -description 1
                                -display_name 1 -taxonomy 1 -output 1 -flow 1} 0 0] opts pos
    stub::need {[dict exists $stub::hls synthesized]} "csynth_design has not run"
    stub::need {[dict get $opts -format] eq "ip_catalog"} "-format must be ip_catalog here"
    stub::need {[dict get [dict merge {-rtl verilog} $opts] -rtl] in {verilog vhdl}} "bad -rtl"
    stub::need {[regexp {^\d+\.\d+$} [dict get [dict merge {-version 1.0} $opts] -version]]} "-version must be major.minor"
    set ip [file join [dict get $stub::hls project] [dict get $stub::hls solution] impl ip]
    file mkdir $ip
    set f [open [file join $ip component.xml] w]
    foreach {tag opt default} {vendor -vendor xilinx.com library -library hls name -ipname "" version -version 1.0} {
        set value [dict get [dict merge [list $opt $default] $opts] $opt]
        if {$value eq ""} { set value [dict get $stub::hls top] }
        puts $f "<spirit:$tag>$value</spirit:$tag>"
    }
    close $f
}

# ---------------------------------------------------------------- both: add_files
stub::command add_files {args} {
    lassign [stub::parse $args {-norecurse 0 -fileset 1 -cflags 1 -csimflags 1 -tb 0 -quiet 0} 1 -1] opts pos
    foreach group $pos {
        foreach f $group {
            stub::need {[file isfile $f]} "no such file: $f"
            if {[dict size $stub::prj]} { lappend stub::files [file normalize $f] } else { dict lappend stub::hls sources $f }
        }
    }
}

# ---------------------------------------------------------------- Vivado: project
stub::command create_project {args} {
    lassign [stub::parse $args {-part 1 -force 0 -in_memory 0} 2 2] opts pos
    stub::need {[dict exists $opts -part]} "needs -part"
    lassign $pos name dir
    file mkdir $dir
    close [open [file join $dir $name.xpr] w]
    set stub::prj [dict create name $name dir $dir part [dict get $opts -part]]
}
stub::command get_board_parts {args} {
    lassign [stub::parse $args {-quiet 0 -filter 1 -latest_file_version 0} 0 1] opts pos
    return [lindex $pos 0]   ;# the stub has every board's files
}
stub::command current_project {args} {
    stub::parse $args {} 0 0
    stub::need {[dict size $stub::prj]} "no project open"
    return [dict get $stub::prj name]
}
stub::command current_fileset {args} {
    stub::parse $args {-simset 0 -constrset 0} 0 0
    return sources_1
}
stub::command update_ip_catalog {args} {
    stub::parse $args {-rebuild 0 -quiet 0} 0 0
    stub::need {[dict exists $stub::prj ip_repo_paths]} "no ip_repo_paths set"
    foreach repo [dict get $stub::prj ip_repo_paths] {
        foreach xml [glob -nocomplain [file join $repo component.xml] [file join $repo * component.xml]] {
            set text [read [set f [open $xml]]][close $f]
            set vlnv {}
            foreach tag {vendor library name version} {
                regexp "<spirit:$tag>(\[^<\]*)</spirit:$tag>" $text -> value
                lappend vlnv $value
            }
            lappend stub::catalog [join $vlnv :]
        }
    }
}
stub::command set_property {args} {
    lassign [stub::parse $args {-dict 0 -quiet 0} 2 3] opts pos
    if {[dict exists $opts -dict]} {
        stub::need {[llength $pos] == 2} "-dict takes a list and one object"
        lassign $pos values object
        stub::need {[llength $values] % 2 == 0} "odd -dict list: $values"
    } else {
        stub::need {[llength $pos] == 3} "takes a property, a value and an object"
        lassign $pos key value object
        set values [list $key $value]
    }
    set object [string trimleft $object /]
    if {[string match ipx:* $object]} {
        dict for {key value} $values { stub::set_ipx_property $key $value $object }
    } elseif {[dict size $stub::prj] && $object eq [dict get $stub::prj name]} {
        dict for {key value} $values {
            switch -- $key {
                board_part { dict set stub::prj board_part $value }
                ip_repo_paths {
                    foreach repo $value { stub::need {[file isdirectory $repo]} "ip repository $repo does not exist" }
                    dict set stub::prj ip_repo_paths $value
                }
                default { stub::fail "project property $key is not one the stub knows" }
            }
        }
    } elseif {$object eq "sources_1"} {
        dict for {key value} $values {
            stub::need {$key eq "top"} "fileset property $key is not one the stub knows"
            stub::need {[lsearch -exact [lmap f $stub::files {file rootname [file tail $f]}] $value] >= 0} \
                "top $value: no such file added to the project"
            dict set stub::prj top $value
        }
    } elseif {[dict exists $stub::cells $object]} {
        set kind [stub::kind $object]
        dict for {key value} $values {
            stub::need {[string match CONFIG.* $key]} "cell property $key is not a CONFIG parameter"
            set param [string range $key 7 end]
            if {[regsub {\.VALUE_SRC$} $param "" param]} {
                stub::need {$value in {USER DEFAULT PROPAGATED}} "bad VALUE_SRC $value"
            }
            if {$kind eq "axi_dma"} {
                stub::need {$param in $stub::dma_params} "$param is not an AXI DMA 7.1 parameter (PG021)"
            } elseif {$kind eq "processing_system7"} {
                stub::need {[string match PCW_* $param]} "$param is not a processing_system7 parameter"
            }
            dict set stub::config $object $key $value
        }
    } else {
        stub::fail "no object '$object'"
    }
}

# ---------------------------------------------------------------- Vivado: block design
stub::command create_bd_design {args} {
    lassign [stub::parse $args {} 1 1] opts pos
    stub::need {[dict size $stub::prj]} "no project open"
    set stub::bd [lindex $pos 0]
}
stub::command create_bd_cell {args} {
    lassign [stub::parse $args {-type 1 -vlnv 1 -reference 1} 1 1] opts pos
    set name [lindex $pos 0]
    stub::need {$stub::bd ne ""} "no block design open"
    stub::need {[dict get $opts -type] eq "ip" && [dict exists $opts -vlnv]} "the stub creates -type ip -vlnv cells only"
    set vlnv [dict get $opts -vlnv]
    stub::need {$vlnv in $stub::catalog} "IP $vlnv is not in the catalog ($stub::catalog)"
    stub::need {![dict exists $stub::cells $name]} "cell $name exists"
    dict set stub::cells $name $vlnv
    if {[stub::kind $name] eq "processing_system7"} { dict set stub::config $name CONFIG.PCW_USE_M_AXI_GP0 1 }
    return $name
}
stub::command get_bd_cells {args} {
    lassign [stub::parse $args {-quiet 0} 1 1] opts pos
    set cell [string trimleft [lindex $pos 0] /]
    stub::need {[dict exists $stub::cells $cell]} "no cell $cell"
    return $cell
}
stub::command get_bd_intf_pins {args} {
    lassign [stub::parse $args {-quiet 0} 1 1] opts pos
    return [stub::pin [lindex $pos 0] intf]
}
stub::command get_bd_pins {args} {
    lassign [stub::parse $args {-quiet 0} 1 1] opts pos
    return [stub::pin [lindex $pos 0] pin]
}
stub::command apply_bd_automation {args} {
    lassign [stub::parse $args {-rule 1 -config 1 -opts 1} 1 1] opts pos
    set target [lindex $pos 0]
    set config [dict get $opts -config]
    stub::need {[llength $config] % 2 == 0} "odd -config list: $config"
    switch -- [dict get $opts -rule] {
        xilinx.com:bd_rule:processing_system7 {
            stub::need {[dict exists $stub::cells $target] && [stub::kind $target] eq "processing_system7"} "target must be the PS7 cell"
            dict for {key value} $config {
                stub::need {$key in {make_external apply_board_preset Master Slave}} "processing_system7 rule has no key $key"
            }
            if {[dict exists $config apply_board_preset] && [dict get $config apply_board_preset] == 1} {
                stub::need {[dict exists $stub::prj board_part]} "apply_board_preset 1 without a board_part"
            }
        }
        xilinx.com:bd_rule:axi4 {
            stub::need {![dict exists $config Clk]} "axi4 rule: bare 'Clk' is the old single clock key (this stub, like our policy, wants the per-side keys); use Clk_master, Clk_slave, Clk_xbar"
            dict for {key value} $config {
                stub::need {$key in {Master Slave Clk_master Clk_slave Clk_xbar ddr_seg intc_ip master_apm}} "axi4 rule has no key $key"
            }
            foreach key {Clk_master Clk_slave Clk_xbar} {
                stub::need {[dict exists $config $key]} "axi4 rule needs $key"
            }
            # Master and Slave: the target is one end, the config names the other (or both)
            set ends [dict merge [list Master $target Slave $target] $config]
            set master [stub::pin [dict get $ends Master] intf]
            set slave [stub::pin [dict get $ends Slave] intf]
            stub::need {[string match -nocase m_axi_* [file tail $master]]} "Master $master is not an AXI master"
            stub::need {[string match -nocase s_axi_* [file tail $slave]]} "Slave $slave is not an AXI slave"
            stub::need {[string trimleft $target /] in [list $master $slave]} "target $target is neither Master nor Slave"
            foreach key {Clk_master Clk_slave Clk_xbar} {
                set clk [dict get $config $key]
                if {$clk ne "Auto"} { stub::pin [lindex $clk 0] pin }
            }
            if {[dict exists $config intc_ip]} {
                set intc [dict get $config intc_ip]
                stub::need {$intc in {Auto "New AXI Interconnect" "New AXI SmartConnect"} || [string match /* $intc]} "bad intc_ip $intc"
            }
            foreach clock [list [stub::clock_of $master] [stub::clock_of $slave]] {
                if {![dict exists $stub::driven $clock]} { dict set stub::driven $clock axi4 }
            }
        }
        xilinx.com:bd_rule:clkrst {
            dict for {key value} $config {
                stub::need {$key in {Clk Freq Ref_Clk0 Ref_Clk1 Ref_Clk2}} "clkrst rule has no key $key"
            }
            stub::need {[dict exists $config Clk]} "clkrst rule needs Clk"
            stub::pin [lindex [dict get $config Clk] 0] pin
            set pin [string trimleft $target /]
            stub::need {[dict exists $stub::cells [file dirname $pin]]} "target $target is not a cell's pin"
            if {[dict exists $stub::driven $pin]} {
                stub::fail "$pin is already driven (by the [dict get $stub::driven $pin] rule): no clock automation is left to apply"
            }
            dict set stub::driven $pin clkrst
        }
        default { stub::fail "unknown rule [dict get $opts -rule]" }
    }
}
stub::command connect_bd_intf_net {args} {
    lassign [stub::parse $args {-boundary_type 1} 2 2] opts pos
    lassign $pos a b
    foreach p $pos {
        stub::pin $p intf
        stub::need {![dict exists $stub::nets $p]} "$p is already connected"
    }
    dict set stub::nets $a $b
    dict set stub::nets $b $a
}
stub::command assign_bd_address {args} {
    stub::parse $args {-quiet 0} 0 0
}
stub::command validate_bd_design {args} {
    stub::parse $args {-force 0 -quiet 0} 0 0
    dict for {cell vlnv} $stub::cells {
        switch -- [stub::kind $cell] {
            axi_dma {
                foreach ch {mm2s s2mm} stream {c_m_axis_mm2s_tdata_width c_s_axis_s2mm_tdata_width} {
                    foreach p [list c_m_axi_${ch}_data_width $stream c_include_${ch}_dre] {
                        stub::need {[stub::cfg $cell $p] ne ""} "$cell: CONFIG.$p is not set explicitly"
                    }
                    set mm [stub::cfg $cell c_m_axi_${ch}_data_width]
                    set st [stub::cfg $cell $stream]
                    set dre [stub::cfg $cell c_include_${ch}_dre]
                    stub::need {$mm in {32 64 128 256 512 1024}} "$cell: $ch memory-mapped width $mm"
                    stub::need {$st in {8 16 32 64 128 256 512 1024}} "$cell: $ch stream width $st"
                    stub::need {$mm >= $st} "$cell: $ch memory-mapped width $mm is narrower than its stream ($st)"
                    stub::need {$dre in {0 1} && ($dre == 0 || $st <= 512)} "$cell: $ch DRE $dre"
                }
                set length [stub::cfg $cell c_sg_length_width 14]
                stub::need {$length >= 8 && $length <= 26} "$cell: c_sg_length_width $length not in 8..26"
                foreach p {M_AXIS_MM2S S_AXIS_S2MM} {
                    stub::need {[dict exists $stub::nets $cell/$p]} "$cell/$p is not connected"
                }
                set clocks {s_axi_lite_aclk m_axi_mm2s_aclk m_axi_s2mm_aclk}
            }
            processing_system7 {
                set clocks {M_AXI_GP0_ACLK}
                if {[stub::cfg $cell PCW_USE_S_AXI_HP0 0] == 1} { lappend clocks S_AXI_HP0_ACLK }
            }
            default { set clocks {ap_clk} }
        }
        foreach clock $clocks {
            stub::need {[dict exists $stub::driven $cell/$clock]} "$cell/$clock is not connected to a clock"
        }
    }
    set stub::validated 1
}
stub::command save_bd_design {args} {
    stub::parse $args {} 0 0
    set dir [file join [dict get $stub::prj dir] [dict get $stub::prj name].srcs sources_1 bd $stub::bd]
    file mkdir $dir
    close [open [file join $dir $stub::bd.bd] w]
    dict set stub::prj bd_file [file normalize [file join $dir $stub::bd.bd]]
}
stub::command get_files {args} {
    lassign [stub::parse $args {-quiet 0 -norecurse 0 -all 0 -of_objects 1} 1 1] opts pos
    set found {}
    foreach f [concat [dict get [dict merge {bd_file {}} $stub::prj] bd_file] $stub::files] {
        if {[string match [lindex $pos 0] [file tail $f]]} { lappend found $f }
    }
    return $found   ;# Vivado too answers "" (with a warning) when nothing matches
}
stub::command make_wrapper {args} {
    lassign [stub::parse $args {-files 1 -top 0 -fileset 1 -force 0 -inst_template 0 -testbench 0} 0 0] opts pos
    stub::need {[dict exists $opts -top]} "the stub makes top wrappers only (-top)"
    set bd_file [dict get $opts -files]
    stub::need {[llength $bd_file] == 1 && [file isfile $bd_file] && [file extension $bd_file] eq ".bd"} "-files must name one saved .bd file, got '$bd_file'"
    set bd [file rootname [file tail $bd_file]]
    set hdl [file join [dict get $stub::prj dir] [dict get $stub::prj name].gen sources_1 bd $bd hdl]
    file mkdir $hdl
    close [open [file join $hdl ${bd}_wrapper.v] w]
    return [file normalize [file join $hdl ${bd}_wrapper.v]]
}
stub::command update_compile_order {args} {
    stub::parse $args {-fileset 1 -quiet 0} 0 0
}

# ---------------------------------------------------------------- Vivado: runs
stub::command get_runs {args} {
    lassign [stub::parse $args {-quiet 0} 1 1] opts pos
    stub::need {[lindex $pos 0] in {synth_1 impl_1}} "no run [lindex $pos 0]"
    return [lindex $pos 0]
}
stub::command launch_runs {args} {
    lassign [stub::parse $args {-to_step 1 -jobs 1 -quiet 0} 1 1] opts pos
    set run [lindex $pos 0]
    stub::need {$run eq "impl_1" && [dict get [dict merge {-to_step ""} $opts] -to_step] eq "write_bitstream"} \
        "the stub runs impl_1 -to_step write_bitstream only"
    stub::need {[dict exists $opts -jobs] && [string is integer -strict [dict get $opts -jobs]] && [dict get $opts -jobs] > 0} "bad -jobs"
    stub::need {$stub::validated && [dict exists $stub::prj bd_file]} "block design not validated and saved"
    stub::need {[dict exists $stub::prj top]} "no top set"
    set top [dict get $stub::prj top]
    set root [file join [dict get $stub::prj dir] [dict get $stub::prj name]]
    file mkdir $root.runs/impl_1
    set f [open [file join $root.runs impl_1 $top.bit] w]; puts -nonewline $f stub; close $f
    set handoff [file join $root.gen sources_1 bd $stub::bd hw_handoff]
    file mkdir $handoff
    set f [open [file join $handoff $stub::bd.hwh] w]; puts -nonewline $f stub; close $f
    dict set stub::runs $run launched
}
stub::command wait_on_run {args} {
    lassign [stub::parse $args {-timeout 1 -quiet 0} 1 1] opts pos
    stub::need {[dict exists $stub::runs [lindex $pos 0]]} "run [lindex $pos 0] was not launched"
    dict set stub::runs [lindex $pos 0] done
}
stub::command get_property {args} {
    lassign [stub::parse $args {-quiet 0} 2 2] opts pos
    lassign $pos name object
    if {[llength $object] > 1 || [string match ipx:bus:* $object]} {
        set values {}
        foreach obj $object {
            set bus [stub::bus_of $obj]
            switch -- $name {
                NAME { lappend values $bus }
                ABSTRACTION_TYPE_VLNV { lappend values [dict get $stub::buses $bus vlnv] }
                default { stub::fail "the stub does not know property $name of bus interfaces" }
            }
        }
        return [expr {[llength $object] > 1 ? $values : [lindex $values 0]}]
    }
    if {$object in {synth_1 impl_1}} {
        switch -- $name {
            PROGRESS { return [expr {[dict get [dict merge [list $object ""] $stub::runs] $object] eq "done" ? "100%" : "0%"}] }
            DIRECTORY { return [file normalize [file join [dict get $stub::prj dir] [dict get $stub::prj name].runs $object]] }
        }
    }
    stub::fail "the stub does not know property $name of '$object'"
}
stub::command close_project {args} {
    stub::parse $args {} 0 0
}

# ---------------------------------------------------------------- Vivado: IP packager (ipx::)
# ipx::package_project infers bus interfaces from the top module's ports in the project's Verilog, as the
# packager's naming rules do for our ports: <bus>_T{DATA,VALID,READY,LAST,KEEP,STRB} -> AXI4-Stream <bus>,
# <bus>_{AW,W,B,AR,R}* -> AXI4(-Lite) <bus>, *clk -> clock, *rst_n / *resetn -> reset, interrupt -> interrupt.
# Objects are strings: ipx:core, ipx:bus:<name>, ipx:param:<bus>:<name>, ipx:map:<name>, ipx:block:<map>:<name>.
# check_integrity wants every stream / memory-mapped bus on a clock, the reset's POLARITY, the clock's FREQ_HZ
# and a memory map with an address block (range > 0) on the AXI4-Lite slave; save_core writes
# <root>/component.xml, which update_ip_catalog reads.
namespace eval ::ipx {}
namespace eval stub {
    variable core [dict create]    ;# root vendor library name version props
    variable buses [dict create]   ;# bus -> {vlnv ... ports ... params {} clock ""}
    variable maps [dict create]    ;# map -> {blocks {name {props}}}
}
proc stub::top_ports {files top} {
    foreach f $files {
        set text [read [set h [open $f]]][close $h]
        if {[regexp "module\\s+$top\\s*\\((.*?)\\);" $text -> body]} {
            set ports {}
            foreach {- name} [regexp -all -inline {(?:input|output)\s+(?:reg\s+)?(?:\[[^\]]*\]\s*)?(\w+)} $body] {
                lappend ports $name
            }
            return $ports
        }
    }
    stub::fail "no module $top in the project's files"
}
proc stub::infer {ports} {
    set buses [dict create]
    foreach p $ports {
        if {[regexp {^(\w+)_(TDATA|TVALID|TREADY|TLAST|TKEEP|TSTRB)$} $p -> bus]} {
            dict set buses $bus vlnv xilinx.com:interface:axis_rtl:1.0
        } elseif {[regexp {^(\w+)_(AWADDR|AWVALID|AWREADY|WDATA|WSTRB|WVALID|WREADY|BRESP|BVALID|BREADY|ARADDR|ARVALID|ARREADY|RDATA|RRESP|RVALID|RREADY)$} $p -> bus]} {
            dict set buses $bus vlnv xilinx.com:interface:aximm_rtl:1.0
        } elseif {[regexp {clk$} $p]} {
            set bus $p
            dict set buses $bus vlnv xilinx.com:signal:clock_rtl:1.0
        } elseif {[regexp {(rst_n|resetn)$} $p]} {
            set bus $p
            dict set buses $bus vlnv xilinx.com:signal:reset_rtl:1.0
        } elseif {$p eq "interrupt"} {
            set bus $p
            dict set buses $bus vlnv xilinx.com:signal:interrupt_rtl:1.0
        } else {
            continue
        }
        dict lappend buses $bus ports $p
        if {![dict exists $buses $bus params]} { dict set buses $bus params {} ; dict set buses $bus clock "" }
    }
    return $buses
}
proc stub::need_core {obj} {
    stub::need {[dict size $stub::core]} "no IP core (ipx::package_project has not run)"
    if {$obj ne "ipx:core"} { uplevel 1 [list stub::fail "'$obj' is not the IP core"] }
}
proc stub::bus_of {obj} {
    if {![regexp {^ipx:bus:(\w+)$} $obj -> bus] || ![dict exists $stub::buses $bus]} {
        uplevel 1 [list stub::fail "'$obj' is not a bus interface"]
    }
    return $bus
}
stub::command ipx::package_project {args} {
    lassign [stub::parse $args {-root_dir 1 -vendor 1 -library 1 -taxonomy 1 -import_files 0 -set_current 1 -force 0
                                -name 1 -version 1} 0 0] opts pos
    stub::need {[dict exists $stub::prj top]} "no top set in the project"
    stub::need {[llength $stub::files]} "no files in the project"
    foreach key {-root_dir -vendor -library} { stub::need {[dict exists $opts $key]} "needs $key" }
    set root [dict get $opts -root_dir]
    stub::need {[file pathtype $root] eq "absolute"} "-root_dir $root: give an absolute path"
    if {[file exists [file join $root component.xml]]} {
        stub::need {[dict exists $opts -force]} "$root/component.xml exists (no -force)"
    }
    file mkdir [file join $root src]
    if {[dict exists $opts -import_files]} {
        foreach f $stub::files { file copy -force $f [file join $root src] }
    }
    set top [dict get $stub::prj top]
    set stub::buses [stub::infer [stub::top_ports $stub::files $top]]
    set stub::core [dict create root $root vendor [dict get $opts -vendor] library [dict get $opts -library] \
        name $top version 1.0]
}
stub::command ipx::current_core {args} {
    stub::parse $args {} 0 0
    stub::need {[dict size $stub::core]} "no current IP core"
    return ipx:core
}
stub::command ipx::get_bus_interfaces {args} {
    lassign [stub::parse $args {-of_objects 1 -quiet 0} 0 1] opts pos
    stub::need_core [dict get $opts -of_objects]
    if {[llength $pos]} {
        set name [lindex $pos 0]
        return [expr {[dict exists $stub::buses $name] ? "ipx:bus:$name" : ""}]
    }
    return [lmap b [dict keys $stub::buses] {string cat ipx:bus: $b}]
}
stub::command ipx::associate_bus_interfaces {args} {
    lassign [stub::parse $args {-busif 1 -clock 1 -reset 1 -remove 0} 1 1] opts pos
    stub::need_core [lindex $pos 0]
    stub::need {[dict exists $opts -clock]} "needs -clock"
    set clock [dict get $opts -clock]
    stub::need {[dict exists $stub::buses $clock] && [dict get $stub::buses $clock vlnv] eq "xilinx.com:signal:clock_rtl:1.0"} \
        "-clock $clock is not a clock interface"
    if {[dict exists $opts -busif]} {
        set bus [dict get $opts -busif]
        stub::need {[dict exists $stub::buses $bus]} "-busif $bus is not a bus interface"
        dict set stub::buses $bus clock $clock
    }
    if {[dict exists $opts -reset]} {
        set reset [dict get $opts -reset]
        stub::need {[dict exists $stub::buses $reset] && [dict get $stub::buses $reset vlnv] eq "xilinx.com:signal:reset_rtl:1.0"} \
            "-reset $reset is not a reset interface"
        dict set stub::buses $reset clock $clock
    }
    stub::need {[dict exists $opts -busif] || [dict exists $opts -reset]} "needs -busif or -reset"
}
stub::command ipx::get_bus_parameters {args} {
    lassign [stub::parse $args {-of_objects 1 -quiet 0} 0 1] opts pos
    set bus [stub::bus_of [dict get $opts -of_objects]]
    set name [lindex $pos 0]
    return [expr {[dict exists $stub::buses $bus params $name] ? "ipx:param:$bus:$name" : ""}]
}
stub::command ipx::add_bus_parameter {args} {
    lassign [stub::parse $args {} 2 2] opts pos
    lassign $pos name obj
    set bus [stub::bus_of $obj]
    stub::need {![dict exists $stub::buses $bus params $name]} "bus parameter $name exists"
    dict set stub::buses $bus params $name ""
    return ipx:param:$bus:$name
}
stub::command ipx::get_memory_maps {args} {
    lassign [stub::parse $args {-of_objects 1 -quiet 0} 0 1] opts pos
    stub::need_core [dict get $opts -of_objects]
    set name [lindex $pos 0]
    return [expr {[dict exists $stub::maps $name] ? "ipx:map:$name" : ""}]
}
stub::command ipx::add_memory_map {args} {
    lassign [stub::parse $args {} 2 2] opts pos
    lassign $pos name obj
    stub::need_core $obj
    stub::need {![dict exists $stub::maps $name]} "memory map $name exists"
    dict set stub::maps $name blocks {}
    return ipx:map:$name
}
stub::command ipx::get_address_blocks {args} {
    lassign [stub::parse $args {-of_objects 1 -quiet 0} 0 1] opts pos
    stub::need {[regexp {^ipx:map:(\w+)$} [dict get $opts -of_objects] -> map]} "-of_objects must be a memory map"
    return [lmap b [dict keys [dict get $stub::maps $map blocks]] {string cat ipx:block:$map: $b}]
}
stub::command ipx::add_address_block {args} {
    lassign [stub::parse $args {} 2 2] opts pos
    lassign $pos name obj
    stub::need {[regexp {^ipx:map:(\w+)$} $obj -> map]} "$obj is not a memory map"
    dict set stub::maps $map blocks $name {}
    return ipx:block:$map:$name
}
proc stub::set_ipx_property {key value object} {
    if {$object eq "ipx:core"} {
        stub::need {$key in {name version display_name description core_revision vendor library taxonomy}} \
            "IP core property $key is not one the stub knows"
        if {$key eq "version"} { stub::need {[regexp {^\d+\.\d+$} $value]} "version $value must be major.minor" }
        dict set stub::core $key $value
    } elseif {[regexp {^ipx:param:(\w+):(\w+)$} $object -> bus name]} {
        stub::need {$key eq "value"} "bus parameter property $key is not one the stub knows"
        dict set stub::buses $bus params $name $value
    } elseif {[regexp {^ipx:bus:(\w+)$} $object -> bus]} {
        stub::need {$key eq "slave_memory_map_ref"} "bus interface property $key is not one the stub knows"
        stub::need {[dict exists $stub::maps $value]} "no memory map $value"
        dict set stub::buses $bus map $value
    } elseif {[regexp {^ipx:block:(\w+):(\w+)$} $object -> map block]} {
        stub::need {$key in {range width usage base_address}} "address block property $key is not one the stub knows"
        if {$key in {range width}} { stub::need {[string is integer -strict $value] && $value > 0} "$key $value" }
        dict set stub::maps $map blocks $block $key $value
    } else {
        stub::fail "no IP packager object '$object'"
    }
}
stub::command ipx::create_xgui_files {args} {
    lassign [stub::parse $args {} 1 1] opts pos
    stub::need_core [lindex $pos 0]
}
stub::command ipx::update_checksums {args} {
    lassign [stub::parse $args {} 1 1] opts pos
    stub::need_core [lindex $pos 0]
}
stub::command ipx::check_integrity {args} {
    lassign [stub::parse $args {-quiet 0 -kernel 0 -xrt 0} 1 1] opts pos
    stub::need_core [lindex $pos 0]
    dict for {bus info} $stub::buses {
        set vlnv [dict get $info vlnv]
        if {$vlnv in {xilinx.com:interface:axis_rtl:1.0 xilinx.com:interface:aximm_rtl:1.0 xilinx.com:signal:reset_rtl:1.0}} {
            stub::need {[dict get $info clock] ne ""} "bus interface $bus is associated with no clock"
        }
        if {$vlnv eq "xilinx.com:signal:reset_rtl:1.0"} {
            stub::need {[dict exists $info params POLARITY] && [dict get $info params POLARITY] in {ACTIVE_LOW ACTIVE_HIGH}} \
                "reset $bus has no POLARITY"
        }
        if {$vlnv eq "xilinx.com:signal:clock_rtl:1.0"} {
            stub::need {[dict exists $info params FREQ_HZ] && [string is integer -strict [dict get $info params FREQ_HZ]]} \
                "clock $bus has no integer FREQ_HZ"
        }
        if {$vlnv eq "xilinx.com:interface:aximm_rtl:1.0"} {
            set map [expr {[dict exists $info map] ? [dict get $info map] : $bus}]
            stub::need {[dict exists $stub::maps $map] && [dict size [dict get $stub::maps $map blocks]]} \
                "AXI slave $bus has no memory map with an address block"
            dict for {block props} [dict get $stub::maps $map blocks] {
                stub::need {[dict exists $props range]} "address block $block has no range"
            }
        }
    }
}
stub::command ipx::save_core {args} {
    lassign [stub::parse $args {} 1 1] opts pos
    stub::need_core [lindex $pos 0]
    set f [open [file join [dict get $stub::core root] component.xml] w]
    foreach tag {vendor library name version} {
        puts $f "<spirit:$tag>[dict get $stub::core $tag]</spirit:$tag>"
    }
    close $f
}

# ---------------------------------------------------------------- run the script
rename exit real_exit
stub::command exit {args} {
    stub::finish 0
}
if {[catch {source [lindex $argv 0]} message]} {
    puts stderr $::errorInfo
    stub::record [list FAILED $message]
    stub::finish 1
}
stub::finish 0

# Runs a static build script under plain tclsh with the Vitis HLS / Vivado commands stubbed:
# every vendor command is recorded (one line per call, words space-separated) in calls.log,
# and answers what the script needs to go on. Usage: tclsh vendor_stub.tcl SCRIPT
set calls [open calls.log w]
set impl_dir [file normalize stub_impl]
file mkdir $impl_dir

proc record {args} {
    global calls
    puts $calls [join $args " "]
}

proc unknown {cmd args} {
    global impl_dir
    record $cmd {*}$args
    switch -- $cmd {
        get_board_parts { return [lindex $args end] }
        get_bd_intf_pins - get_bd_pins - get_runs - get_files - create_bd_cell { return [lindex $args end] }
        get_property {
            set what [lindex $args 0]
            if {$what eq "PROGRESS"} { return "100%" }
            if {$what eq "DIRECTORY"} { return $impl_dir }
            return ""
        }
        current_project - current_fileset { return stub }
        default { return "" }
    }
}

rename exit real_exit
proc exit {args} { record exit {*}$args }

source [lindex $argv 0]
close $calls
real_exit 0

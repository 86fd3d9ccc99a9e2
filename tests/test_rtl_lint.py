"""The lint wrapper: Verilator's % lines, and a crash without any is not a clean lint."""

import subprocess

from flow.rtl.sim import lint_lines


def test_lint_lines_keeps_warnings_and_reports_a_silent_crash():
    warn = subprocess.CompletedProcess([], 1, "", "%Warning-WIDTH: a.v:3: width\n%Error: Exiting due to 1 warning(s)\n")
    assert lint_lines(warn) == ["%Warning-WIDTH: a.v:3: width", "%Error: Exiting due to 1 warning(s)"]
    assert lint_lines(subprocess.CompletedProcess([], 0, "", "")) == []
    crashed = lint_lines(subprocess.CompletedProcess([], -11, "", "Segmentation fault\n"))
    assert len(crashed) == 1 and "exited -11" in crashed[0] and "Segmentation fault" in crashed[0]

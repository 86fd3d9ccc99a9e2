"""Bad input to the command line: a one-line error naming the thing, exit code 2, no traceback,
nothing written that claims success. One case per bad input (the list goes into the issue note)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from flow import golden
from flow.cli import main

MODEL = str(golden.GOLDEN_DIR / "digits_msq4.h5")


def _corrupt(tmp_path):
    path = tmp_path / "corrupt.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    return str(path)


def _not_keras(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as fh:
        fh["x"] = np.zeros(3)
    return str(path)


def _directory(tmp_path):
    (tmp_path / "model_dir.h5").mkdir()
    return str(tmp_path / "model_dir.h5")


def _a_file(tmp_path):
    path = tmp_path / "taken"
    path.write_text("user data")
    return str(path)


def _under_a_file(tmp_path):
    (tmp_path / "taken").write_text("user data")
    return str(tmp_path / "taken" / "sub")


#: (case, argv builder, words the one-line error must contain)
CASES = [
    ("missing model", lambda t: ["build", str(t / "nope.h5"), "--out", str(t / "b")], ["nope.h5", "does not exist"]),
    ("corrupt h5", lambda t: ["build", _corrupt(t), "--out", str(t / "b")], ["corrupt.h5"]),
    ("non-Keras h5", lambda t: ["build", _not_keras(t), "--out", str(t / "b")], ["data.h5", "Keras"]),
    ("model is a directory", lambda t: ["build", _directory(t), "--out", str(t / "b")], ["model_dir.h5", "directory"]),
    ("convert: corrupt h5", lambda t: ["convert", _corrupt(t), str(t / "b")], ["corrupt.h5"]),
    ("convert: model is a directory", lambda t: ["convert", _directory(t), str(t / "b")], ["model_dir.h5"]),
    ("malformed precision", lambda t: ["build", MODEL, "--out", str(t / "b"), "--input-precision", "fixed<99"],
     ["input_precision", "fixed<99"]),
    ("unknown board", lambda t: ["build", MODEL, "--out", str(t / "b"), "--board", "zedboard"], ["zedboard", "pynq-z2"]),
    ("unknown strategy", lambda t: ["build", MODEL, "--out", str(t / "b"), "--strategy", "Fast"], ["--strategy", "Fast"]),
    ("convert: unknown strategy", lambda t: ["convert", MODEL, str(t / "b"), "--strategy", "Fast"], ["--strategy"]),
    ("unknown io type", lambda t: ["demo", "--io-type", "io_serial", "--output-dir", str(t / "b")], ["--io-type", "io_serial"]),
    ("build: unknown io type", lambda t: ["build", MODEL, "--out", str(t / "b"), "--io-type", "io_serial"],
     ["--io-type", "io_serial", "io_stream"]),
    ("zero reuse factor", lambda t: ["build", MODEL, "--out", str(t / "b"), "--reuse-factor", "0"], ["--reuse-factor", "0"]),
    ("negative reuse factor", lambda t: ["convert", MODEL, str(t / "b"), "--reuse-factor", "-4"], ["--reuse-factor", "-4"]),
    ("non-integer reuse factor", lambda t: ["estimate", MODEL, "--reuse-factor", "2.5"], ["--reuse-factor", "2.5"]),
    ("zero clock", lambda t: ["build", MODEL, "--out", str(t / "b"), "--clock-mhz", "0"], ["clock_mhz", "0"]),
    ("negative clock", lambda t: ["build", MODEL, "--out", str(t / "b"), "--clock-mhz", "-100"], ["clock_mhz", "-100"]),
    ("zero bits", lambda t: ["demo", "--bits", "0", "--output-dir", str(t / "b")], ["--bits", "0"]),
    ("build --out is a file", lambda t: ["build", MODEL, "--out", _a_file(t)], ["taken", "is a file"]),
    ("convert output is a file", lambda t: ["convert", MODEL, _a_file(t)], ["taken", "is a file"]),
    ("build --out unwritable", lambda t: ["build", MODEL, "--out", _under_a_file(t)], ["cannot write", "taken"]),
    ("convert output unwritable", lambda t: ["convert", MODEL, _under_a_file(t)], ["cannot write", "taken"]),
    ("unknown cut layer", lambda t: ["build", MODEL, "--out", str(t / "b"), "--cut", "fc9", "--optimize"], ["fc9"]),
    ("resume without a build", lambda t: ["build", MODEL, "--out", str(t / "b"), "--resume"], ["cannot resume", "state.json"]),
]


@pytest.mark.parametrize("case,argv,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2(case, argv, words, tmp_path, capsys):
    args = argv(tmp_path)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2, (case, err)
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (case, word, err)
    taken = tmp_path / "taken"
    if taken.exists():  # user data is never overwritten
        assert taken.read_text() == "user data"
    state = tmp_path / "b" / "state.json"
    if state.exists():  # a failed build may record its failure, never success
        steps = json.loads(state.read_text())["steps"]
        assert not any(s["status"] == "done" and name in ("csim_lib", "package") for name, s in steps.items())
    assert not (tmp_path / "b" / "overlay" / "manifest.json").exists()

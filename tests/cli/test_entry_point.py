"""The real entry point (.venv/bin/preau, main()) on errors a user or the machine causes.

Each case runs `preau` as a subprocess, as a shell would: what matters is its exit code and
that stderr is one `error:` line naming what was wrong, never a traceback or a usage box.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PREAU = str(Path(sys.executable).parent / "preau")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREAU_NETBOX_")}
    base.pop("PREAU_SOURCE", None)
    return subprocess.run(
        [PREAU, *args],
        capture_output=True,
        text=True,
        env={**base, "COLUMNS": "80", **(env or {})},
        timeout=120,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line, checked to be an `error:` line and nothing else."""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


USAGE_ERRORS = {
    "unknown option": (["sot", "validate", "--bogus"], "--bogus"),
    "missing required option": (["college", "add"], "--uai"),
    "not an int": (
        ["college", "add", "--uai", "0929999Z", "--name", "X", "--pupils", "abc"],
        "--pupils",
    ),
    "int under its minimum": (
        ["college", "add", "--uai", "0929999Z", "--name", "X", "--pupils", "-3"],
        "--pupils",
    ),
    "unknown command": (["nosuchcommand"], "nosuchcommand"),
    "unknown sub-command": (["net", "nosuchverb"], "nosuchverb"),
    "missing option of net apply": (["net", "apply"], "--college"),
    "not a float": (["net", "apply", "-c", "x", "--timeout", "soon"], "--timeout"),
    "unexpected argument": (["sot", "validate", "extra"], "extra"),
}


@pytest.mark.parametrize("case", USAGE_ERRORS, ids=list(USAGE_ERRORS))
def test_usage_error_is_one_red_line_and_exit_2(case):
    args, named = USAGE_ERRORS[case]
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc)
    assert named in line
    assert proc.stdout == ""


def test_help_exits_0_on_stdout():
    proc = run("--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: preau")
    assert "college" in proc.stdout and proc.stderr == ""


def test_a_noun_alone_prints_its_help_and_exits_2():
    proc = run("sot")
    assert proc.returncode == 2
    assert "Usage: preau sot" in proc.stderr and "validate" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_input_of_ours_is_exit_2_too():
    proc = run("college", "list", "--source", "bogus")
    assert proc.returncode == 2
    assert "unknown source 'bogus'" in one_error_line(proc)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is a host package")
def test_a_failing_program_is_one_line_saying_which(tmp_path):
    # Graphviz refuses an unknown output format (the picture's suffix): a program preau ran
    # exited non-zero. Its own message comes first on stderr; ours is the last line.
    out = tmp_path / "site.nosuchformat"
    proc = run("college", "diagram", "0929002K", "--source", "files", "--out", str(out))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("error: `") and "-Tnosuchformat" in last
    assert "failed with exit code 1" in last


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is a host package")
def test_a_missing_program_is_one_line_saying_what_to_install(tmp_path):
    # A PATH with podman but without iproute2: `lab down --dry-run` lists the lab switch
    # namespace with `ip`, which cannot start.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "podman").symlink_to(shutil.which("podman") or "podman")
    proc = run("lab", "down", "--dry-run", env={"PATH": str(bin_dir)})
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc)
    assert line.startswith("error: ip: command not found") and "scripts/bootstrap" in line

"""requirements.lock is what pyproject.toml gives: re-locking changes nothing (~2 s, uv cache).

scripts/bootstrap installs exactly the lock; a dependency changed in pyproject.toml without
`scripts/lock` would otherwise never reach a machine.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_lock_matches_pyproject():
    proc = subprocess.run(
        [str(REPO / "scripts" / "lock"), "--check"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lock_pins_every_package_with_hashes():
    lines = (REPO / "requirements.lock").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith((" ", "#"))]
    assert pins, "empty lock"
    for pin in pins:
        assert "==" in pin and pin.endswith("\\"), f"not pinned with hashes: {pin}"
    names = {pin.split("==")[0] for pin in pins}
    assert {"typer", "pyinfra", "pynetbox", "pytest", "ruff"} <= names

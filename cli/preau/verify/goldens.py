"""Golden cases: `network/<platform>/cases/<case>/input.yml` rendered and compared to `expected/`.

input.yml names an inventory (a file source of truth under network/inventories/), the device
to render and the render options. `preau net goldens --update` rewrites every `expected/`;
the golden tests (tests/golden/test_network_golden.py) fail with a unified diff on any change.
It reads and writes files, so it lives here, not in preau.render (which does no I/O).
"""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from preau.errors import BadInput
from preau.render.context import Options
from preau.render.device import Rendered, render_device
from preau.render.env import NETWORK_DIR
from preau.sot import files


@dataclass(frozen=True, slots=True)
class Case:
    platform: str
    name: str
    folder: Path
    description: str
    inventory: Path
    device: str
    options: Options

    @property
    def id(self) -> str:
        return f"{self.platform}/{self.name}"

    @property
    def expected_dir(self) -> Path:
        return self.folder / "expected"


def _case(folder: Path, root: Path) -> Case:
    source = folder / "input.yml"
    data: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "device" not in data or "inventory" not in data:
        raise BadInput(f"{source}: needs `inventory` and `device`")
    return Case(
        platform=folder.parent.parent.name,
        name=folder.name,
        folder=folder,
        description=str(data.get("description", "")),
        inventory=root / str(data["inventory"]),
        device=str(data["device"]),
        options=Options(**(data.get("options") or {})),
    )


def cases(root: Path = NETWORK_DIR) -> list[Case]:
    """Every golden case, in a stable order (platform, case name)."""
    return [_case(p.parent, root) for p in sorted(root.glob("*/cases/*/input.yml"))]


def render_case(case: Case) -> Rendered:
    dep = files.load(case.inventory)
    for site in dep.sites:
        device = site.device(case.device)
        if device is not None:
            return render_device(dep, site, device, case.options)
    raise BadInput(f"golden case {case.id}: no device {case.device!r} in {case.inventory}")


def expected(case: Case) -> Rendered:
    root = case.expected_dir
    if not root.is_dir():
        return {}
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def diff(case: Case, got: Rendered) -> str:
    """A unified diff of expected -> rendered over every file; empty when they agree."""
    want = expected(case)
    out: list[str] = []
    for path in sorted(set(want) | set(got)):
        a, b = want.get(path), got.get(path)
        if a == b:
            continue
        out += difflib.unified_diff(
            (a or "").splitlines(keepends=True),
            (b or "").splitlines(keepends=True),
            fromfile=f"expected/{path}" if a is not None else "/dev/null",
            tofile=f"rendered/{path}" if b is not None else "/dev/null",
        )
    return "".join(out)


def update(case: Case) -> bool:
    """Rewrite a case's expected/ from the current templates; True if anything changed."""
    got = render_case(case)
    if not diff(case, got):
        return False
    shutil.rmtree(case.expected_dir, ignore_errors=True)
    for path, text in got.items():
        target = case.expected_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return True

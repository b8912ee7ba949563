"""The layers' seams: render/ and deploys/ never import the twin, render/ does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cli" / "preau"
LOWER = ("render", "deploys")
# Calls that read or write outside the process: render/ computes text from the model only.
IO_NAMES = {"open", "system", "popen", "read_text", "write_text", "read_bytes", "write_bytes"}
IO_MODULES = {"subprocess", "socket", "shutil", "urllib", "requests", "httpx"}


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.lineno, node.module))
            # `from preau import lab` names the package as an imported name
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


@pytest.mark.parametrize(
    "path", [p for layer in LOWER for p in _modules(layer)], ids=lambda p: p.name
)
def test_lower_layers_never_import_the_twin(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    bad = [
        f"{path.relative_to(PACKAGE)}:{line}: imports {name}"
        for line, name in _imports(tree)
        if name == "preau.lab" or name.startswith("preau.lab.")
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", _modules("render"), ids=lambda p: p.name)
def test_render_does_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    bad = [
        f"{path.relative_to(PACKAGE)}:{line}: imports {name}"
        for line, name in _imports(tree)
        if name.split(".")[0] in IO_MODULES
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = (
                fn.id
                if isinstance(fn, ast.Name)
                else fn.attr
                if isinstance(fn, ast.Attribute)
                else ""
            )
            if name in IO_NAMES:
                bad.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: calls {name}()")
    assert not bad, "\n".join(bad)


def test_the_checks_see_a_violation() -> None:
    """The walkers above do find what they refuse (else the tests could not fail)."""
    sample = ast.parse(
        "from preau.lab.topology import x\nimport subprocess\nfrom preau import lab\n"
        "open('f')\nPath('x').read_text()\n"
    )
    names = [n for _, n in _imports(sample)]
    assert "preau.lab.topology" in names and "subprocess" in names and "preau.lab" in names
    calls = [
        (n.func.id if isinstance(n.func, ast.Name) else n.func.attr)  # type: ignore[attr-defined]
        for n in ast.walk(sample)
        if isinstance(n, ast.Call)
    ]
    assert {"open", "read_text"} <= set(calls)

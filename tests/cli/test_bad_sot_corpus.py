"""The corpus of bad source-of-truth inputs, through the CLI's real entry point.

Each folder of tests/corpus/bad_sot/ holds a case.toml: edits applied to a copy of the demo
inventory (or `college_add` arguments), and the problems expected as [file, object, field].
Every case runs through `preau.app.main()` (what the console script calls) for each command
that reads the source of truth: `sot validate`, `sot push --dry-run`, `net render` (or
`college add`), and must give exit code 2, exactly one stderr line per expected problem naming
its file, object and field, no traceback, and leave every file as it was.
A few cases also run through the installed `preau` console script in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import preau.app

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus" / "bad_sot"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.toml").is_file())

COMMANDS = {
    "validate": ["sot", "validate", "--source", "files", "--path", "inventory"],
    "push": ["sot", "push", "--from", "inventory", "--dry-run"],
    "render": ["net", "render", "--source", "files", "--path", "inventory", "--out", "out"],
}


def load_case(name: str) -> dict[str, Any]:
    return tomllib.loads((CORPUS / name / "case.toml").read_text(encoding="utf-8"))


def build(case: dict[str, Any], where: Path) -> Path:
    """The demo inventory under where/inventory with the case's edits applied."""
    inv = where / "inventory"
    shutil.copytree(REPO / "inventory", inv)
    for c in case.get("copy", []):
        shutil.copyfile(inv / c["from"], inv / c["to"])
    for e in case.get("edit", []):
        path = inv / e["file"]
        if e["old"] is False:
            text = e["new"]
        else:
            text = path.read_text(encoding="utf-8")
            # a case whose edit no longer applies would test nothing: fail instead
            assert text.count(e["old"]) >= 1, f"{e['file']}: {e['old']!r} not found"
            text = text.replace(e["old"], e["new"], 1)
        path.write_text(text, encoding="utf-8")
    if "encode" in case:
        file, encoding = case["encode"]
        path = inv / file
        path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    for r in case.get("remove", []):
        (inv / r["file"]).unlink()
    return inv


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def problem_lines(stderr: str) -> list[str]:
    """One line per problem: the listed ones, or the single error line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    listed = [line for line in lines if line.startswith("  - ")]
    return listed or [line for line in lines if line.startswith("error:")]


def check_output(case: dict[str, Any], code: int, stderr: str) -> None:
    assert "Traceback" not in stderr
    assert code == 2, stderr
    lines = problem_lines(stderr)
    expect = case["expect"]
    assert len(lines) == len(expect), "\n".join(lines)
    for file, obj, field in expect:
        where = f"inventory/{file}" if file else ""
        hits = [line for line in lines if where in line and f"{obj}: {field}:" in line]
        assert hits, f"no line names {where} {obj}: {field}:\n" + "\n".join(lines)


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`preau <argv>` in this process, exactly as the console script runs it."""
    old = sys.argv
    sys.argv = ["preau", *argv]
    try:
        preau.app.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = old
    _, err = capsys.readouterr()
    return code, err


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from tmp_path, with no NetBox configured, wide enough for one problem per line."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PREAU_NETBOX_URL", raising=False)
    monkeypatch.delenv("PREAU_NETBOX_TOKEN", raising=False)
    monkeypatch.delenv("PREAU_SOURCE", raising=False)
    monkeypatch.setenv("PREAU_HOME", str(tmp_path / "home"))
    # main() prints errors soft-wrapped: one problem per line whatever the terminal's width
    return tmp_path


def _param(name: str) -> Any:
    why = load_case(name).get("xfail")
    return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=why)) if why else name


@pytest.mark.parametrize("name", [_param(n) for n in CASES])
def test_bad_input_is_refused(name: str, isolated: Path, capsys) -> None:
    case = load_case(name)
    assert case["expect"], f"{name}: a case must expect at least one problem"
    build(case, isolated)
    before = snapshot(isolated)
    if "college_add" in case:
        runs = {"college": ["college", "add", *case["college_add"], "--source", "files",
                            "--path", "inventory"]}  # fmt: skip
    else:
        runs = COMMANDS
    for command, argv in runs.items():
        code, err = run_main(argv, capsys)
        try:
            check_output(case, code, err)
        except AssertionError as exc:
            raise AssertionError(f"{name} via {command}: {exc}") from None
        assert snapshot(isolated) == before, f"{name} via {command}: a file was written"
    assert not (isolated / "out").exists()


# Through the installed console script, in a subprocess: the entry point a person runs.
SUBPROCESS_CASES = ["not-utf8", "unknown-key-interface", "gateway-on-broadcast", "add-empty-name"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_bad_input_through_the_console_script(name: str, tmp_path: Path) -> None:
    case = load_case(name)
    build(case, tmp_path)
    before = snapshot(tmp_path)
    argv = (
        ["college", "add", *case["college_add"], "--source", "files", "--path", "inventory"]
        if "college_add" in case
        else COMMANDS["validate"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREAU_NETBOX")}
    env.update(PREAU_HOME=str(tmp_path / "home"), COLUMNS="10000")
    env.pop("PREAU_SOURCE", None)
    exe = Path(sys.executable).with_name("preau")
    res = subprocess.run(
        [str(exe), *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    check_output(case, res.returncode, res.stderr)
    assert snapshot(tmp_path) == before


def test_every_case_says_what_it_is_about() -> None:
    for name in CASES:
        case = load_case(name)
        assert case.get("about"), name
        assert "edit" in case or "copy" in case or "remove" in case or "college_add" in case


def test_validate_json_lists_the_problems_with_file_and_line(isolated: Path, capsys) -> None:
    build(load_case("unknown-key-interface"), isolated)
    old = sys.argv
    sys.argv = ["preau", *COMMANDS["validate"], "--json"]
    try:
        with pytest.raises(SystemExit) as exit_:
            preau.app.main()
    finally:
        sys.argv = old
    assert exit_.value.code == 2
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert [(r["file"], r["object"], r["field"]) for r in rows] == [
        (
            "inventory/sites/clg-0929001j.yml",
            "device clg-0929001j-pc001 interface eth0",
            "adress",
        )
    ]
    assert isinstance(rows[0]["line"], int) and rows[0]["line"] > 1

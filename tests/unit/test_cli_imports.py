"""`preau --help` stays cheap: the CLI's modules import no heavy library until a command runs.

Behaviour, not timing (bench/cli/ measures the time): which modules are loaded, checked in a
fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Libraries a command imports when it runs, never to print help.
HEAVY = (
    "pyinfra", "pynetbox", "ansible", "ansible_runner", "matplotlib", "requests", "jinja2",
    "netaddr", "yaml", "paramiko", "rich", "click",
)  # fmt: skip

LOADED = """
import json, sys
{setup}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
"""


def loaded_after(setup: str) -> set[str]:
    code = LOADED.format(setup=setup)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_importing_the_app_loads_no_heavy_library():
    assert loaded_after("import preau.app") & set(HEAVY) == set()


@pytest.mark.parametrize("args", [["--help"], ["net", "--help"], ["college", "add", "--help"]])
def test_help_loads_no_heavy_library(args):
    setup = (
        "import contextlib, io\n"
        "from preau.app import main\n"
        f"sys.argv = ['preau', *{args!r}]\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main()"
    )
    assert loaded_after(setup) & set(HEAVY) == set()


def test_a_command_still_loads_what_it_needs(tmp_path):
    # The check above is meaningful only if running a command does load these.
    setup = (
        "import contextlib, io\n"
        "from preau.app import main\n"
        "sys.argv = ['preau', 'net', 'render', '--source', 'files', '--json', "
        f"'--out', {str(tmp_path)!r}]\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main()"
    )
    assert {"jinja2", "netaddr", "yaml"} <= loaded_after(setup)

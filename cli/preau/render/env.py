"""The one Jinja2 environment for preau's templates (network configs, PC client files), shared by
`preau net`, goldens and tests; one per template folder."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

# The package lives in <repo>/cli/preau; the templates live in <repo>/network, next to their
# golden cases, because network engineers review them there, not inside the Python package.
REPO = Path(__file__).resolve().parents[3]
NETWORK_DIR = REPO / "network"


@cache
def environment(root: Path = NETWORK_DIR) -> jinja2.Environment:
    """StrictUndefined: a missing context value is a render error, never an empty config line."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # One process renders with one version of the templates: skip a stat() per include.
        auto_reload=False,
        autoescape=False,  # noqa: S701 - device configs, not HTML
    )
    return env

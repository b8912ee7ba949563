"""The acceptance report ("recette") handed to a collège: checks with their evidence, as JSON
and as a self-contained HTML page (with the collège's topology picture).

This module only holds and writes results; who runs the checks (the twin's probes today,
`preau.lab.acceptance`) is the caller's business.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jinja2


@dataclass(frozen=True)
class Check:
    """One acceptance check: what was tried, from where, what was seen, and if it failed, what
    to fix."""

    name: str
    layer: str  # network, servers, pcs
    where: str  # the host or VLAN the check ran from
    passed: bool
    evidence: str
    fix: str = ""


@dataclass
class Report:
    college: str
    uai: str
    name: str
    target: str
    started: str
    seconds: float = 0.0
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def verdict(self) -> str:
        failed = sum(not c.passed for c in self.checks)
        return "accepted" if self.passed else f"refused: {failed} check(s) failed"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "verdict": self.verdict}


_PAGE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>Recette {{ r.name }} ({{ r.uai }})</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #bbb; padding: .3em .5em; vertical-align: top; text-align: left; }
.ok { background: #d9ead3; } .ko { background: #f4cccc; }
pre { white-space: pre-wrap; margin: 0; font-size: .85em; }
</style></head><body>
<h1>Recette du {{ r.name }} ({{ r.uai }})</h1>
<p><b>{{ r.verdict }}</b>: {{ r.checks | selectattr("passed") | list | length }} of
{{ r.checks | length }} checks passed, {{ r.started }}, {{ "%.0f" | format(r.seconds) }} s,
on {{ r.target }}.</p>
{% if svg %}<figure>{{ svg | safe }}<figcaption>The collège's network, from the source of
truth.</figcaption></figure>{% endif %}
<table><tr><th>check</th><th>layer</th><th>from</th><th>result</th><th>evidence</th>
<th>what to fix</th></tr>
{% for c in r.checks %}<tr class="{{ 'ok' if c.passed else 'ko' }}"><td>{{ c.name }}</td>
<td>{{ c.layer }}</td><td>{{ c.where }}</td><td>{{ 'pass' if c.passed else 'FAIL' }}</td>
<td><pre>{{ c.evidence }}</pre></td><td>{{ c.fix }}</td></tr>
{% endfor %}</table></body></html>
"""
)


def write(report: Report, out: Path, svg: str | None = None) -> tuple[Path, Path]:
    """`<out>/acceptance.json` and `<out>/acceptance.html`; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    as_json = out / "acceptance.json"
    as_json.write_text(json.dumps(report.as_dict(), indent=1, ensure_ascii=False) + "\n")
    # Graphviz's SVG starts with an XML prolog and a DOCTYPE: inline, only the <svg> element
    inline = svg[svg.index("<svg") :] if svg and "<svg" in svg else None
    as_html = out / "acceptance.html"
    as_html.write_text(_PAGE.render(r=report, svg=inline), encoding="utf-8")
    return as_json, as_html

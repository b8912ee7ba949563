"""The load report: JSON data, a Markdown summary with the traffic assumptions, PNG plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from preau.ent.faults import Killed
from preau.ent.load import Segment, to_json
from preau.ent.traffic import (
    VISITS_PER_DAY_LOCKDOWN,
    VISITS_PER_DAY_NORMAL,
    VISITS_TWO_DAYS_LOCKDOWN,
    Profile,
    Traffic,
)

PLOTS = (
    ("requests", "requests/s", ("rps", "target_rps")),
    ("latency", "latency (ms)", ("p50_ms", "p99_ms")),
    ("errors", "failed requests per segment", ("errors",)),
    ("instances", "instances (enabled, UP)", ("instances", "instances_up")),
    ("bandwidth", "Mbit/s (uplink rate, portal traffic)", ("uplink_mbps", "mbit_s")),
)


def assumptions(traffic: Traffic) -> list[str]:
    return [
        f"{VISITS_PER_DAY_NORMAL:,} visits per working day outside lockdown, nearly "
        f"{VISITS_PER_DAY_LOCKDOWN:,} a day when the collèges closed in March 2020 "
        f"({VISITS_TWO_DAYS_LOCKDOWN:,} in two days); the bandwidth was doubled (press, seeds).",
        f"Assumed: {traffic.peak_hour_share:.0%} of a day's visits in its busiest hour, "
        f"{traffic.requests_per_visit} HTML requests per visit (static assets cached), "
        f"{traffic.think_s:g} s of reading between pages.",
        f"Peak: {traffic.visits_per_day:,} x {traffic.peak_hour_share:g} / 3600 = "
        f"{traffic.peak_visits_per_s:.1f} visits/s x {traffic.requests_per_visit} = "
        f"**{traffic.peak_rps:.0f} req/s**, about {traffic.concurrent_visitors:,} visitors "
        "reading at once.",
        "Lab: a wrk connection thinks 0.1 s instead of 10 s, so one connection stands for "
        "100 pupils; the request rate is the real one, the socket count is not.",
        "Honest scale: the stand-in portal costs far less per request than a real ENT "
        "(one Redis GET and one to two indexed queries per page), and this machine has 2 cores "
        "shared with other work; the controller's per-instance target stands for the real "
        "ENT's per-instance capacity, the absolute latencies say little about production.",
    ]


def write(
    directory: Path,
    profile: Profile,
    traffic: Traffic,
    segments: list[Segment],
    extra: dict[str, Any] | None = None,
    kills: Sequence[Killed] = (),
) -> list[Path]:
    """report.json, report.md and the plots; each kill is listed and marked on every plot."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = to_json(segments)
    total = sum(s.requests for s in segments)
    errors = sum(s.errors for s in segments)
    summary = {
        "profile": profile.name,
        "description": profile.description,
        "peak_rps": round(traffic.peak_rps, 1),
        "requests": total,
        "errors": errors,
        "max_rps": max((s.rps for s in segments), default=0),
        "max_p99_ms": max((s.p99_ms for s in segments), default=0),
        "max_instances": max((s.instances or 0 for s in segments), default=0),
        **(extra or {}),
    }
    data = directory / "report.json"
    data.write_text(
        json.dumps(
            {
                "summary": summary,
                "assumptions": assumptions(traffic),
                "kills": [k.as_dict() for k in kills],
                "segments": rows,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    files = [data, *_plots(directory, segments, kills)]
    md = directory / "report.md"
    lines = [
        f"# ENT load report: profile `{profile.name}`",
        "",
        profile.description + ".",
        "",
        "## Traffic model",
        "",
        *[f"- {a}" for a in assumptions(traffic)],
        "",
        "## Result",
        "",
        f"- {total:,} requests, **{errors} failed**; highest rate {summary['max_rps']} req/s, "
        f"worst p99 {summary['max_p99_ms']:.0f} ms, up to {summary['max_instances']} instances.",
        *[f"- {k}: {v}" for k, v in (extra or {}).items()],
        "",
        *_kill_lines(segments, kills),
        "| t (s) | x peak | target req/s | req/s | p50 ms | p99 ms | errors | instances |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {s.t:.0f} | {s.multiplier:g} | {s.target_rps:.0f} | {s.rps:.0f} | "
            f"{s.p50_ms:.1f} | {s.p99_ms:.0f} | {s.errors} | {s.instances_up} |"
            for s in segments
        ],
        "",
        *[f"![{name}]({name}.png)" for name, _, _ in PLOTS],
        "",
    ]
    md.write_text("\n".join(lines))
    return [md, *files]


def _kill_lines(segments: list[Segment], kills: Sequence[Killed]) -> list[str]:
    """The kills, each with what the pupils saw in the segments from it to 10 s after."""
    if not kills:
        return []
    lines = [
        "## Kills",
        "",
        "| t (s) | part | host | units | failed in the next 10 s | worst p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for k in kills:
        # a segment's t is its end: those ending after the kill, up to 10 s later
        after = [s for s in segments if k.t < s.t <= k.t + 10]
        worst = max((s.p99_ms for s in after), default=0)
        lines.append(
            f"| {k.t:.1f} | {k.part} | {k.host or 'not done: ' + (k.error or '')} | "
            f"{', '.join(k.units)} | {sum(s.errors for s in after)} | {worst:.0f} |"
        )
    return [*lines, ""]


def _mark(ax: Any, kills: Sequence[Killed]) -> None:
    for k in kills:
        ax.axvline(k.t, color="black", linestyle="--", linewidth=1)
        ax.annotate(k.label, (k.t, 1), xycoords=("data", "axes fraction"), xytext=(3, -10),
                    textcoords="offset points", fontsize=7)  # fmt: skip


def _plots(directory: Path, segments: list[Segment], kills: Sequence[Killed] = ()) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t for s in segments]
    out = []
    fig_all, axes = plt.subplots(len(PLOTS), 1, figsize=(9, 2.2 * len(PLOTS)), sharex=True)
    for ax_all, (name, label, keys) in zip(axes, PLOTS, strict=True):
        fig, ax = plt.subplots(figsize=(9, 3))
        for target in (ax, ax_all):
            drawn = False
            for key in keys:
                ys = [getattr(s, key) for s in segments]
                if all(y is None for y in ys):
                    continue
                drawn = True
                target.step(
                    t, [y if y is not None else float("nan") for y in ys], where="post", label=key
                )
            _mark(target, kills)
            target.set_ylabel(label)
            target.grid(alpha=0.3)
            if drawn:  # a measure the run did not sample (no autoscaler, no uplink) has no line
                target.legend(loc="upper left", fontsize=8)
        ax.set_xlabel("seconds")
        fig.tight_layout()
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        out.append(path)
    axes[-1].set_xlabel("seconds")
    fig_all.tight_layout()
    path = directory / "overview.png"
    fig_all.savefig(path, dpi=80)
    plt.close(fig_all)
    return [*out, path]


def failover_plot(runs: list[dict[str, Any]], path: Path) -> Path:
    """One panel per kill (the first run of each fault): requests answered, failed and slow
    per bucket and the slowest answer's latency, the kill at t = 0 and the recovery window
    shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    firsts: dict[str, dict[str, Any]] = {}
    for run in runs:
        if run.get("timeline"):
            firsts.setdefault(run["fault"], run)
    if not firsts:
        raise ValueError("no drill with a timeline to plot")
    fig, axes = plt.subplots(len(firsts), 1, figsize=(9, 2.3 * len(firsts)), squeeze=False)
    for ax, (fault, run) in zip(axes[:, 0], firsts.items(), strict=True):
        t = [b["t"] for b in run["timeline"]]
        for key, colour in (("ok", "tab:green"), ("slow", "tab:orange"), ("failed", "tab:red")):
            ax.step(t, [b[key] for b in run["timeline"]], where="post", label=key, color=colour)
        latency = ax.twinx()  # the slowest answer per bucket: a stall shows before a failure
        latency.step(t, [b.get("latency_max", 0) for b in run["timeline"]], where="post",
                     color="tab:blue", linewidth=0.8, label="slowest answer (s)")  # fmt: skip
        latency.set_ylabel("latency (s)", fontsize=8)
        latency.legend(loc="upper left", fontsize=8)
        _mark(ax, [Killed(0.0, fault, None, ())])
        ax.axvspan(0, run["recovery_s"], color="tab:red", alpha=0.12)
        ax.set_title(
            f"{fault}: killed at 0 s, serving again after {run['recovery_s']:.2f} s, "
            f"{run['failed']} of {run['sent']} requests failed",
            fontsize=9,
        )
        ax.set_ylabel("requests")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("seconds from the kill")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path

"""The picture of a collège's uplink the desk asks for (`preau college status UAI --plot`): each
direction's share of the commit rate over the last hours, the saturation alert's threshold as
Prometheus runs it, and the spans when that alert fired shaded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from preau.monitoring.status import UplinkHistory


def uplink(history: UplinkHistory, name: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    def when(t: float) -> float:
        # matplotlib's own date axis unit, so every call takes the same floats
        return float(mdates.date2num(datetime.fromtimestamp(t, UTC)))

    fig, ax = plt.subplots(figsize=(9, 3.2))
    for direction, points in sorted(history.series.items()):
        ax.plot([when(t) for t, _ in points], [v * 100 for _, v in points], label=direction)
    if history.threshold is not None:
        ax.axhline(history.threshold * 100, color="tab:red", linestyle="--", linewidth=1,
                   label=f"alert threshold {history.threshold:.0%}")  # fmt: skip
    for start, end in history.firing:
        ax.axvspan(when(start), when(end), color="tab:red", alpha=0.15)
    if history.firing:
        ax.plot([], [], color="tab:red", alpha=0.3, linewidth=6, label="saturation alert firing")
    rate = f"{history.commit_rate_mbps} Mbit/s" if history.commit_rate_mbps else "unknown"
    ax.set_title(
        f"{name} ({history.uai}): uplink, share of its {rate} commit rate, "
        f"last {history.hours:g} h (UTC)",
        fontsize=9,
    )
    ax.set_ylabel("% of commit rate")
    ax.set_ylim(bottom=0)
    ticks = mdates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(ticks)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ticks, tz=UTC))
    ax.grid(alpha=0.3)
    if not history.series:
        ax.annotate("no utilisation recorded in this window", (0.5, 0.5),
                    xycoords="axes fraction", ha="center")  # fmt: skip
    else:
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

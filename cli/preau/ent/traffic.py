"""The ENT's traffic, derived from the département's published figures (ent/README, seeds).

Published: 150,000 potential users; 150,000 visits per working day outside lockdown; nearly
180,000 visits a day when the collèges closed in March 2020 (350,000 in two days), when the
access bandwidth was doubled. Assumed (stated in every report): the share of a day's visits in
its busiest hour, the requests per visit (HTML pages only: static assets are cached by the
browser), and a pupil's think time between pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

VISITS_PER_DAY_NORMAL = 150_000
VISITS_PER_DAY_LOCKDOWN = 180_000
VISITS_TWO_DAYS_LOCKDOWN = 350_000


@dataclass(frozen=True)
class Traffic:
    visits_per_day: int = VISITS_PER_DAY_LOCKDOWN
    # School days concentrate visits: 07:30-08:30 before class and 17:00-20:00 at home. 15%
    # of the day in the busiest hour is our assumption (a flat 10-hour day would be 10%).
    peak_hour_share: float = 0.15
    # login page, login, dashboard, timetable, homework, messages, two more pages
    requests_per_visit: int = 8
    # seconds a person reads a page before the next click
    think_s: float = 10.0

    @property
    def peak_visits_per_s(self) -> float:
        return self.visits_per_day * self.peak_hour_share / 3600

    @property
    def peak_rps(self) -> float:
        return self.peak_visits_per_s * self.requests_per_visit

    @property
    def concurrent_visitors(self) -> int:
        """Little's law: arrivals x time a visit lasts."""
        return math.ceil(self.peak_visits_per_s * self.requests_per_visit * self.think_s)


@dataclass(frozen=True)
class Profile:
    name: str
    # (multiple of the peak rate, seconds)
    steps: tuple[tuple[float, float], ...]
    description: str

    @property
    def duration_s(self) -> float:
        return sum(s for _, s in self.steps)


PROFILES = {
    p.name: p
    for p in (
        Profile("smoke", ((1, 6),), "6 s at the peak rate: does the harness work"),
        Profile("peak", ((1, 30),), "30 s at the lockdown peak"),
        Profile("peak-2x", ((1, 20), (2, 30), (1, 20)), "peak, twice the peak, peak"),
        Profile(
            "drill",
            ((1, 10), (4, 20), (1, 14)),
            "44 s fire drill before a known peak: peak, 4x, back to peak",
        ),
        Profile(
            "peak-4x",
            ((1, 20), (2, 20), (4, 30), (1, 30)),
            "peak, 2x, 4x (schools closed and every family online at once), back to peak",
        ),
    )
}

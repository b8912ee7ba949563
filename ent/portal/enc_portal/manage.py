"""`python -m enc_portal.manage init-db --pupils N`: schema and demo data, idempotent.

Prints `changed` or `unchanged` on its last line so Ansible can report it truthfully.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
from importlib import resources

import psycopg2
from psycopg2.extras import execute_values

from enc_portal import config, passwords

SUBJECTS = [
    "Français",
    "Mathématiques",
    "Histoire-géo",
    "Anglais",
    "SVT",
    "Physique-chimie",
    "Technologie",
    "EPS",
    "Arts plastiques",
    "Éducation musicale",
    "Espagnol",
]
SENDERS = ["Vie scolaire", "Professeur principal", "Principal", "CDI", "Infirmerie"]


def classes(pupils: int) -> list[str]:
    """About 27 pupils a class, levels 6e to 3e, like a collège."""
    count = max(1, pupils // 27)
    return [f"{6 - (i % 4)}e{chr(ord('A') + i // 4)}" for i in range(count)]


def init_db(dsn: str, pupils: int, password: str) -> bool:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(resources.files("enc_portal").joinpath("schema.sql").read_text())
            cur.execute("SELECT count(*) FROM pupils")
            have = cur.fetchone()[0]
            if have >= pupils:
                return False
            rng = random.Random(42)
            names = classes(pupils)
            # One salt and hash for the whole batch would be faster, but each pupil gets
            # their own salt as in any real identity store.
            rows = []
            for i in range(have + 1, pupils + 1):
                salt, digest = passwords.make(password)
                rows.append((f"eleve{i:05d}", f"Élève {i}", names[i % len(names)], salt, digest))
            ids = execute_values(
                cur,
                "INSERT INTO pupils (login, full_name, class_name, pw_salt, pw_hash) VALUES %s "
                "ON CONFLICT (login) DO NOTHING RETURNING id",
                rows,
                fetch=True,
            )
            execute_values(
                cur,
                "INSERT INTO timetable VALUES %s ON CONFLICT DO NOTHING",
                [
                    (c, d, s, rng.choice(SUBJECTS), f"S{rng.randint(100, 320)}")
                    for c in names
                    for d in range(1, 6)
                    for s in range(1, 8)
                ],
            )
            cur.execute("SELECT count(*) FROM homework")
            if cur.fetchone()[0] == 0:
                today = dt.date.today()
                execute_values(
                    cur,
                    "INSERT INTO homework (class_name, due, subject, body) VALUES %s",
                    [
                        (
                            c,
                            today + dt.timedelta(days=rng.randint(-7, 21)),
                            rng.choice(SUBJECTS),
                            "Exercices " + ", ".join(str(rng.randint(1, 60)) for _ in range(3)),
                        )
                        for c in names
                        for _ in range(20)
                    ],
                )
            now = dt.datetime.now(dt.UTC)
            execute_values(
                cur,
                "INSERT INTO messages (pupil_id, sent, sender, subject, unread) VALUES %s",
                [
                    (
                        pid,
                        now - dt.timedelta(hours=rng.randint(1, 24 * 60)),
                        rng.choice(SENDERS),
                        f"Information n°{rng.randint(1, 999)}",
                        rng.random() < 0.3,
                    )
                    for (pid,) in ids
                    for _ in range(8)
                ],
            )
            cur.execute("ANALYZE")
        return True
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="enc_portal.manage")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init-db", help="create the schema and the demo pupils")
    init.add_argument("--pupils", type=int, default=2000)
    args = parser.parse_args(argv)
    password = os.environ.get("ENC_PORTAL_DEMO_PASSWORD", "")
    if not password:
        print(
            "ENC_PORTAL_DEMO_PASSWORD is not set: the demo pupils need a password", file=sys.stderr
        )
        return 2
    changed = init_db(config.load().dsn, args.pupils, password)
    print("changed" if changed else "unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())

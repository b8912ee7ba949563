"""The portal's WSGI application (served by gunicorn, one process per instance).

Sessions are Redis keys `sess:<token>` -> pupil id, so any instance serves any session.
With sentinels configured, the master is asked of them, and a session operation that meets a
failover (connection lost, a demoted master refusing writes) is retried against the new master
for a few seconds: the pupil sees a slower page, not an error.
PostgreSQL connections are one per worker thread, opened lazily and reopened after an error.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import psycopg2
import redis
import redis.sentinel

from enc_portal import config, passwords

SETTINGS = config.load()
COOKIE = "ENCSESSION"
DAYS = ["", "Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi"]
_local = threading.local()
StartResponse = Callable[..., Any]
# How long a session operation or a query keeps trying through a failover (Redis' sentinels
# take about down-after-milliseconds + an election; pg_auto_failover's monitor a few seconds).
FAILOVER_PATIENCE_S = 10.0


def _redis_client() -> redis.Redis:
    if not SETTINGS.redis_sentinels:
        return redis.Redis.from_url(SETTINGS.redis_url, socket_timeout=2, socket_connect_timeout=2)
    sentinel = redis.sentinel.Sentinel(
        list(SETTINGS.redis_sentinels),
        sentinel_kwargs={"password": SETTINGS.redis_password, "socket_timeout": 1},
        password=SETTINGS.redis_password,
        socket_timeout=2,
        socket_connect_timeout=2,
    )
    return sentinel.master_for(SETTINGS.redis_master)


_redis = _redis_client()


def _sessions(operation: Callable[[redis.Redis], Any]) -> Any:
    """Run one session operation, riding out a failover when sentinels are configured."""
    deadline = time.monotonic() + (FAILOVER_PATIENCE_S if SETTINGS.redis_sentinels else 0)
    while True:
        try:
            return operation(_redis)
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.25)


class Response:
    def __init__(self, status: str, body: str = "", headers: list[tuple[str, str]] | None = None):
        self.status = status
        self.body = body.encode()
        self.headers = [("Content-Type", "text/html; charset=utf-8"), *(headers or [])]


def _db() -> Any:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        # with several hosts in the DSN and target_session_attrs=read-write, libpq tries them in
        # turn and keeps the primary: after a failover the next connection finds the new one
        conn = psycopg2.connect(SETTINGS.dsn, connect_timeout=3)
        conn.autocommit = True
        _local.conn = conn
    return conn


def _query(sql: str, args: tuple[Any, ...], idempotent: bool = True) -> list[tuple[Any, ...]]:
    """Run one statement; through a database failover, reconnect and (if idempotent) run again.

    A statement that may have been applied before its connection broke (an INSERT) is not
    sent again: the pupil gets an error instead of a message posted twice. So that a connection
    that broke earlier (its server gone in a failover) does not fail such a statement for
    nothing, it is proven first with a query that can be retried.
    """
    if not idempotent:
        _query("SELECT 1", ())
    deadline = time.monotonic() + FAILOVER_PATIENCE_S
    while True:
        try:
            conn = _db()
        except psycopg2.OperationalError:
            # no primary reachable yet: nothing was sent, so waiting and retrying is safe
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.25)
            continue
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            # a broken connection must not poison the thread: reopen on the next try
            _local.conn = None
            if not idempotent or time.monotonic() >= deadline:
                raise
        except psycopg2.Error:
            _local.conn = None
            raise


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=fr><head><meta charset=utf-8>"
        f"<title>{html.escape(title)} - ENC (portail de test)</title></head><body>"
        "<nav><a href=/>Accueil</a> <a href=/timetable>Emploi du temps</a> "
        "<a href=/homework>Cahier de textes</a> <a href=/messages>Messagerie</a></nav>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _session(environ: dict[str, Any]) -> int | None:
    cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    morsel = cookie.get(COOKIE)
    if morsel is None:
        return None
    value = _sessions(lambda r: r.get(f"sess:{morsel.value}"))
    return int(value) if value else None


def login_form(_environ: dict[str, Any], error: str = "") -> Response:
    return Response(
        "200 OK",
        _page(
            "Connexion",
            f"<p>{html.escape(error)}</p><form method=post action=/login>"
            "<input name=login><input name=password type=password><button>Entrer</button></form>",
        ),
    )


def login(environ: dict[str, Any]) -> Response:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    form = parse_qs(environ["wsgi.input"].read(min(size, 4096)).decode())
    user = form.get("login", [""])[0]
    password = form.get("password", [""])[0]
    rows = _query("SELECT id, pw_salt, pw_hash FROM pupils WHERE login = %s", (user,))
    if not rows or not passwords.check(password, rows[0][1], rows[0][2]):
        resp = login_form(environ, "Identifiant ou mot de passe incorrect.")
        resp.status = "401 Unauthorized"
        return resp
    token = secrets.token_urlsafe(24)
    _sessions(lambda r: r.setex(f"sess:{token}", SETTINGS.session_ttl, rows[0][0]))
    if SETTINGS.redis_wait_replicas:
        # bounded: with its replica gone the master still logs pupils in, a little slower
        _sessions(lambda r: r.wait(SETTINGS.redis_wait_replicas, 500))
    return Response(
        "303 See Other",
        headers=[
            ("Location", "/"),
            ("Set-Cookie", f"{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Lax"),
        ],
    )


def logout(environ: dict[str, Any]) -> Response:
    cookie = SimpleCookie(environ.get("HTTP_COOKIE", "")).get(COOKIE)
    if cookie is not None:
        _sessions(lambda r: r.delete(f"sess:{cookie.value}"))
    return Response("303 See Other", headers=[("Location", "/login")])


def dashboard(pupil: int) -> Response:
    name, klass = _query("SELECT full_name, class_name FROM pupils WHERE id = %s", (pupil,))[0]
    unread = _query("SELECT count(*) FROM messages WHERE pupil_id = %s AND unread", (pupil,))[0][0]
    return Response(
        "200 OK",
        _page(
            f"Bonjour {name}",
            f"<p>Classe : {html.escape(klass)}</p><p>Messages non lus : {unread}</p>",
        ),
    )


def timetable(pupil: int) -> Response:
    rows = _query(
        "SELECT t.weekday, t.slot, t.subject, t.room FROM timetable t "
        "JOIN pupils p ON p.class_name = t.class_name WHERE p.id = %s ORDER BY 1, 2",
        (pupil,),
    )
    cells = "".join(
        f"<tr><td>{DAYS[d]}</td><td>{s}</td><td>{html.escape(subj)}</td><td>{room}</td></tr>"
        for d, s, subj, room in rows
    )
    return Response("200 OK", _page("Emploi du temps", f"<table>{cells}</table>"))


def homework(pupil: int) -> Response:
    rows = _query(
        "SELECT h.due, h.subject, h.body FROM homework h JOIN pupils p "
        "ON p.class_name = h.class_name WHERE p.id = %s "
        "AND h.due BETWEEN current_date AND current_date + 14 ORDER BY h.due",
        (pupil,),
    )
    items = "".join(
        f"<li>{due:%d/%m} {html.escape(subj)} : {html.escape(body)}</li>"
        for due, subj, body in rows
    )
    return Response("200 OK", _page("Cahier de textes", f"<ul>{items}</ul>"))


def messages(pupil: int) -> Response:
    rows = _query(
        "SELECT sent, sender, subject, unread FROM messages WHERE pupil_id = %s "
        "ORDER BY sent DESC LIMIT 20",
        (pupil,),
    )
    items = "".join(
        f"<li>{'*' if unread else ''}{sent:%d/%m %H:%M} {html.escape(sender)} : "
        f"{html.escape(subject)}</li>"
        for sent, sender, subject, unread in rows
    )
    return Response("200 OK", _page("Messagerie", f"<ul>{items}</ul>"))


def post_message(environ: dict[str, Any], pupil: int) -> Response:
    """A pupil writes to the vie scolaire: the write a failover must not lose once answered."""
    size = int(environ.get("CONTENT_LENGTH") or 0)
    form = parse_qs(environ["wsgi.input"].read(min(size, 4096)).decode())
    subject = form.get("subject", [""])[0].strip()[:200]
    if not subject:
        return Response("400 Bad Request", _page("Messagerie", "<p>Objet manquant.</p>"))
    (message,) = _query(
        "INSERT INTO messages (pupil_id, sent, sender, subject, unread) "
        "VALUES (%s, now(), 'moi', %s, false) RETURNING id",
        (pupil, subject),
        idempotent=False,
    )[0]
    return Response(
        "201 Created",
        _page("Messagerie", f"<p>Message {message} envoyé.</p>"),
        [("X-Message-Id", str(message))],
    )


PAGES: dict[str, Callable[[int], Response]] = {
    "/": dashboard,
    "/timetable": timetable,
    "/homework": homework,
    "/messages": messages,
}


def route(environ: dict[str, Any]) -> Response:
    path = environ.get("PATH_INFO", "/")
    method = environ.get("REQUEST_METHOD", "GET")
    if path == "/healthz":
        return Response("200 OK", "ok", [("Content-Type", "text/plain")])
    if path == "/login":
        return login(environ) if method == "POST" else login_form(environ)
    if path == "/logout" and method == "POST":
        return logout(environ)
    page = PAGES.get(path)
    if page is None:
        return Response("404 Not Found", _page("Introuvable", ""))
    pupil = _session(environ)
    if pupil is None:
        return Response("303 See Other", headers=[("Location", "/login")])
    if path == "/messages" and method == "POST":
        return post_message(environ, pupil)
    return page(pupil)


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    try:
        resp = route(environ)
    except (psycopg2.Error, redis.RedisError) as exc:
        resp = Response("503 Service Unavailable", f"backend unavailable: {type(exc).__name__}")
    headers = [
        *resp.headers,
        ("Content-Length", str(len(resp.body))),
        ("X-Instance", SETTINGS.instance),
    ]
    start_response(resp.status, headers)
    return [resp.body]

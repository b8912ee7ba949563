"""Lifecycle of the local NetBox: a private PostgreSQL cluster, a private Redis and gunicorn.

`up` is idempotent and restores a pre-migrated dump shipped in this package instead of running
NetBox's 336 migrations (about 1 s instead of 260 s). After the restore it creates one admin user
and one v2 token, then copies that state into the template database ``netbox_seed`` so that
`reset` (drop + create from template, about 0.3 s) keeps them.

Regenerating the dump (maintainers, after a NetBox version bump)::

    preau netbox up --migrate     # runs the migrations, writes the dump into the cache
    cp ~/.cache/preau/netbox/dumps/netbox-<version>.sql.gz cli/preau/netbox_local/

(``scripts/netbox-dump`` does both.)
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import gzip
import hashlib
import hmac
import importlib.resources
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from secrets import token_hex

from preau.errors import ServiceError
from preau.netbox_local import secrets_store, venv
from preau.netbox_local.paths import NETBOX_VERSION, PG_VERSION, Paths, running_as_root
from preau.netbox_local.settings import NetBoxSettings

PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
SEED_DB = "netbox_seed"
DB = "netbox"
DB_USER = "netbox"
ADMIN_USER = "admin"
GUNICORN_WORKERS = 2  # 2 cores shared with the rest of the machine
API_WAIT_SECONDS = 120
STEPS = ("venv", "postgres", "redis", "database", "token", "netbox")

Note = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# --- small process helpers ---------------------------------------------------------------------
def _tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in lines)


def _fail(what: str, log: Path, detail: str = "") -> ServiceError:
    extra = f": {detail}" if detail else ""
    return ServiceError(f"{what}{extra}\n  log: {log}\n{_tail(log)}")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int | None, needle: str) -> bool:
    """Whether ``pid`` runs with ``needle`` in its command line (guards against pid reuse)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return needle in cmdline


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _port_owner(port: int) -> str:
    """Who listens on ``port`` (best effort, for error messages)."""
    try:
        out = subprocess.run(
            ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "another process"
    m = re.search(r'users:\(\("([^"]+)",pid=(\d+)', out)
    return f"{m.group(1)} (pid {m.group(2)})" if m else "another process"


def _check_port_free(port: int, service: str, env_var: str) -> None:
    if _port_open(port):
        raise ServiceError(
            f"{service}: port {port} on 127.0.0.1 is already used by {_port_owner(port)}; "
            f"stop it or choose another port with {env_var}=..."
        )


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid, ""):
            return True
        time.sleep(0.1)
    return not _alive(pid, "")


def _stop_pid(pid: int | None, needle: str, group: bool = False, grace: float = 10) -> bool:
    """SIGTERM, then SIGKILL after a grace period; ``group`` signals the whole process group
    (gunicorn's workers share the master's)."""
    if not _alive(pid, needle):
        return False
    assert pid is not None

    def kill(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group and os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    kill(signal.SIGTERM)
    if not _wait_gone(pid, grace):
        kill(signal.SIGKILL)
        _wait_gone(pid, 5)
    # Reap it if we started it in this process (pytest): a zombie keeps its /proc entry.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return True


# --- PostgreSQL ---------------------------------------------------------------------------------
def _as_owner(cmd: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as ``postgres`` when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if running_as_root() else cmd


def _chown_to_owner(path: Path) -> None:
    if running_as_root():
        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _pg_env(password: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "5"
    if password is not None:
        env["PGPASSWORD"] = password
    return env


def _psql_super(paths: Paths, sql: str, db: str = "postgres") -> str:
    """Run SQL as the cluster superuser over the private unix socket (trust, mode 0700 dir)."""
    cmd = [
        str(PG_BIN / "psql"),
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(paths.pg_socket_dir),
        "-p",
        str(paths.pg_port),
        "-U",
        "postgres",
        "-d",
        db,
    ]
    proc = subprocess.run(cmd, input=sql, capture_output=True, text=True, env=_pg_env())
    if proc.returncode != 0:
        raise ServiceError(f"postgres: SQL failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _pg_running(paths: Paths) -> int | None:
    pid = _read_pid(paths.pg_pid) if paths.pg_data.exists() else None
    return pid if _alive(pid, "postgres") else None


def _pg_init(paths: Paths, note: Note) -> None:
    if (paths.pg_data / "PG_VERSION").exists():
        return
    note("initialising the PostgreSQL cluster")
    paths.pg_root.mkdir(parents=True, exist_ok=True)
    paths.pg_root.chmod(0o700)
    _chown_to_owner(paths.pg_root)
    if paths.pg_data.exists():
        shutil.rmtree(paths.pg_data)  # a half-done initdb
    for d in (paths.pg_socket_dir,):
        d.mkdir(exist_ok=True)
        d.chmod(0o700)
        _chown_to_owner(d)
    cmd = _as_owner(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(paths.pg_data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=paths.pg_root)
    if proc.returncode != 0:
        raise ServiceError(f"postgres: initdb failed: {proc.stderr.strip()[-800:]}")


def _pg_conf(paths: Paths) -> None:
    """Settings rewritten at each start, so changed ports take effect."""
    conf = paths.pg_data / "postgresql.auto.conf"
    text = (
        "# Written by preau netbox up. Test/demo data only: durability is traded for speed.\n"
        f"port = {paths.pg_port}\n"
        "listen_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{paths.pg_socket_dir}'\n"
        "fsync = off\n"
        "synchronous_commit = off\n"
        "full_page_writes = off\n"
        "max_connections = 100\n"
    )
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
        _chown_to_owner(conf)


def _pg_start(paths: Paths, note: Note) -> bool:
    _pg_init(paths, note)
    if _pg_running(paths):
        return False
    _check_port_free(paths.pg_port, "postgres", "PREAU_NETBOX_PG_PORT")
    _pg_conf(paths)
    note("starting PostgreSQL")
    cmd = _as_owner(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(paths.pg_data),
            "-l",
            str(paths.pg_log),
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=paths.pg_root)
    if proc.returncode != 0:
        raise _fail("postgres failed to start", paths.pg_log, proc.stderr.strip())
    return True


def _pg_stop(paths: Paths) -> bool:
    if not _pg_running(paths):
        return False
    cmd = _as_owner(
        [str(PG_BIN / "pg_ctl"), "-D", str(paths.pg_data), "-m", "fast", "-w", "-t", "60", "stop"]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=paths.pg_root)
    if proc.returncode != 0:
        _stop_pid(_pg_running(paths), "postgres")
    return True


def _pg_ensure_role(paths: Paths, password: str) -> None:
    # The password is made of letters and digits only (secrets_store), so quoting is safe.
    exists = _psql_super(paths, f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'")
    verb = "ALTER" if exists == "1" else "CREATE"
    _psql_super(paths, f"{verb} ROLE {DB_USER} LOGIN PASSWORD '{password}'")


def _db_exists(paths: Paths, name: str) -> bool:
    return _psql_super(paths, f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"


def _seed_marker(secrets: dict[str, str]) -> str:
    return f"preau seed netbox={NETBOX_VERSION} secrets={secrets_store.fingerprint(secrets)}"


def _seed_current(paths: Paths, secrets: dict[str, str]) -> bool:
    got = _psql_super(
        paths,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
        f"WHERE datname = '{SEED_DB}'",
    )
    return got == _seed_marker(secrets)


# --- the dump -----------------------------------------------------------------------------------
def dump_name() -> str:
    return f"netbox-{NETBOX_VERSION}.sql.gz"


def cached_dump_path(paths: Paths) -> Path:
    return paths.venv_cache / "dumps" / dump_name()


def _find_dump(paths: Paths) -> Path | None:
    packaged = importlib.resources.files("preau.netbox_local") / dump_name()
    if packaged.is_file():
        return Path(str(packaged))
    cached = cached_dump_path(paths)
    return cached if cached.exists() else None


def _restore(paths: Paths, dump: Path, password: str) -> None:
    cmd = [
        str(PG_BIN / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
        str(paths.pg_port),
        "-U",
        DB_USER,
        "-d",
        DB,
        "-o",
        "/dev/null",
    ]
    with gzip.open(dump, "rb") as fh:
        sql = fh.read()
    proc = subprocess.run(cmd, input=sql, capture_output=True, env=_pg_env(password))
    if proc.returncode != 0:
        raise ServiceError(
            f"restoring {dump} failed: {proc.stderr.decode(errors='replace')[-800:]}"
        )


def _write_dump(paths: Paths, password: str) -> Path:
    """Plain SQL, no owners/grants/comments, so psql restores it as the database owner."""
    cmd = [
        str(PG_BIN / "pg_dump"),
        "-h",
        "127.0.0.1",
        "-p",
        str(paths.pg_port),
        "-U",
        DB_USER,
        "--no-owner",
        "--no-privileges",
        "--no-comments",
        DB,
    ]
    proc = subprocess.run(cmd, capture_output=True, env=_pg_env(password))
    if proc.returncode != 0:
        raise ServiceError(f"pg_dump failed: {proc.stderr.decode(errors='replace')[-800:]}")
    out = cached_dump_path(paths)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(proc.stdout)
    os.replace(tmp, out)
    return out


# --- NetBox itself ------------------------------------------------------------------------------
_CONFIGURATION = """\
# Written by `preau netbox up`; rewritten at each start. Secrets are read from {secrets}
# (mode 0600), never written here.
import json
import pathlib

_s = json.loads(pathlib.Path({secrets!r}).read_text())

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "netbox",
        "USER": "netbox",
        "PASSWORD": _s["db_password"],
        "HOST": "127.0.0.1",
        "PORT": {pg_port},
        "CONN_MAX_AGE": 300,
        # `preau netbox reset` drops the database under a running server: check before reuse.
        "CONN_HEALTH_CHECKS": True,
    }}
}}
REDIS = {{
    "tasks": {{"HOST": "127.0.0.1", "PORT": {redis_port}, "PASSWORD": "", "DATABASE": 0,
              "SSL": False}},
    "caching": {{"HOST": "127.0.0.1", "PORT": {redis_port}, "PASSWORD": "", "DATABASE": 1,
                "SSL": False}},
}}
SECRET_KEY = _s["secret_key"]
API_TOKEN_PEPPERS = {{1: _s["api_token_pepper"]}}
CENSUS_REPORTING_ENABLED = False
ISOLATED_DEPLOYMENT = True
TIME_ZONE = "Europe/Paris"
"""


def _django_password_hash(password: str, iterations: int = 600_000) -> str:
    """Django's ``pbkdf2_sha256`` format; Django upgrades the iteration count at login."""
    salt = token_hex(11)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def _seed_sql(secrets_: dict[str, str]) -> str:
    """The admin user, its preferences row and its v2 token, as NetBox 4.7 stores them.

    Plain SQL instead of ``netbox shell``: it saves a full Django start (about 11 s of CPU).
    The digest is NetBox's ``Token.update_digest``: HMAC-SHA256 of the token under pepper 1.
    All values are letters, digits and ``$+/=`` (no quote can appear).
    """
    digest = hmac.new(
        secrets_["api_token_pepper"].encode(), secrets_["token_secret"].encode(), hashlib.sha256
    ).hexdigest()
    password = _django_password_hash(secrets_["admin_password"])
    return f"""
BEGIN;
DELETE FROM users_token;
DELETE FROM users_userconfig;
DELETE FROM users_user;
INSERT INTO users_user (password, is_superuser, username, first_name, last_name, email,
                        is_active, date_joined)
     VALUES ('{password}', true, '{ADMIN_USER}', '', '', '', true, now());
INSERT INTO users_userconfig (data, user_id)
     SELECT '{{}}'::jsonb, id FROM users_user WHERE username = '{ADMIN_USER}';
INSERT INTO users_token (created, write_enabled, description, user_id, enabled, version, key,
                         pepper_id, hmac_digest)
     SELECT now(), true, 'preau local NetBox', id, true, 2, '{secrets_["token_key"]}', 1,
            '{digest}'
       FROM users_user WHERE username = '{ADMIN_USER}';
COMMIT;
"""


def _configuration_text(paths: Paths) -> str:
    return _CONFIGURATION.format(
        secrets=str(paths.secrets_file), pg_port=paths.pg_port, redis_port=paths.redis_port
    )


def _write_if_changed(path: Path, text: str) -> None:
    """Leave an unchanged file alone (its mtime too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _write_configuration(paths: Paths) -> None:
    _write_if_changed(paths.configuration, _configuration_text(paths))


# gunicorn's application: NetBox's, wrapped so its CSS, JavaScript and images are served too
# (NetBox leaves that to a web server in front; the local one has none).
_WSGI_MODULE = "preau_netbox_wsgi"
_WSGI = """\
# Written by `preau netbox up`: NetBox's WSGI application, its static files served by WhiteNoise.
from django.conf import settings
from whitenoise import WhiteNoise

from netbox.wsgi import application as netbox_application

application = WhiteNoise(netbox_application, root=settings.STATIC_ROOT, prefix=settings.STATIC_URL)
"""


def _write_wsgi(paths: Paths) -> None:
    _write_if_changed(paths.home / f"{_WSGI_MODULE}.py", _WSGI)


def _collect_static(paths: Paths, note: Note) -> None:
    """NetBox's static files under <NETBOX_ROOT>/static, as symlinks into the venv: once per
    venv (the marker names it), since a new venv moves the files they point to."""
    static = paths.netbox_root / "static"
    marker = static / f".preau-{venv.venv_dir(paths).name}"
    if marker.exists():
        return
    note("linking NetBox's static files")
    args = ["collectstatic", "--no-input", "--link", "--clear"]
    _manage(paths, args, paths.log_dir / "static.log")
    marker.touch()


def _netbox_env(paths: Paths) -> dict[str, str]:
    env = dict(os.environ)
    env["NETBOX_ROOT"] = str(paths.netbox_root)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _manage(paths: Paths, args: list[str], log: Path) -> None:
    cmd = [str(venv.venv_python(paths)), "-m", "netbox", *args]
    with log.open("a") as fh:
        fh.write(f"$ netbox {' '.join(args[:2])}\n")
        fh.flush()
        proc = subprocess.run(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=_netbox_env(paths), cwd=paths.home
        )
    if proc.returncode != 0:
        raise _fail(f"`netbox {args[0]}` failed", log)


def _seed(paths: Paths, secrets: dict[str, str], migrate: bool, note: Note) -> None:
    """Fresh `netbox` database (dump or migrations), admin + token, then the template copy."""
    password = secrets["db_password"]
    log = paths.log_dir / "seed.log"
    log.write_text("")
    if _db_exists(paths, SEED_DB):
        _psql_super(paths, f"ALTER DATABASE {SEED_DB} IS_TEMPLATE false")
        _psql_super(paths, f"DROP DATABASE {SEED_DB} WITH (FORCE)")
    _psql_super(paths, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    _psql_super(paths, f"CREATE DATABASE {DB} OWNER {DB_USER}")
    dump = None if migrate else _find_dump(paths)
    if dump:
        note(f"restoring {dump.name}")
        _restore(paths, dump, password)
    else:
        note(
            f"no pre-migrated dump for NetBox {NETBOX_VERSION}: running the migrations "
            "(about 5 minutes, once)"
        )
        _manage(paths, ["migrate", "--no-input"], log)
        out = _write_dump(paths, password)
        note(f"wrote the dump {out} (commit it as cli/preau/netbox_local/{dump_name()})")
    note("creating the admin user and the API token")
    _psql_super(paths, _seed_sql(secrets), db=DB)
    _psql_super(paths, f"CREATE DATABASE {SEED_DB} TEMPLATE {DB} OWNER {DB_USER}")
    _psql_super(paths, f"ALTER DATABASE {SEED_DB} IS_TEMPLATE true ALLOW_CONNECTIONS false")
    _psql_super(paths, f"COMMENT ON DATABASE {SEED_DB} IS '{_seed_marker(secrets)}'")


def _redis_running(paths: Paths) -> int | None:
    pid = _read_pid(paths.redis_pid)
    return pid if _alive(pid, "redis-server") else None


def _redis_cmd(port: int, *words: str) -> str:
    """Send one command in RESP and return the first reply line (no redis-cli needed)."""
    payload = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(payload.encode())
        return s.recv(1024).decode(errors="replace").split("\r\n")[0]


def _redis_start(paths: Paths, note: Note) -> bool:
    if _redis_running(paths):
        return False
    _check_port_free(paths.redis_port, "redis", "PREAU_NETBOX_REDIS_PORT")
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(exe).exists():
        raise ServiceError("redis-server is not installed: run scripts/bootstrap")
    note("starting Redis")
    paths.redis_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        exe,
        "--bind",
        "127.0.0.1",
        "--port",
        str(paths.redis_port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "yes",
        "--pidfile",
        str(paths.redis_pid),
        "--logfile",
        str(paths.redis_log),
        "--dir",
        str(paths.redis_dir),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise _fail("redis failed to start", paths.redis_log, proc.stderr.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if _redis_cmd(paths.redis_port, "PING") == "+PONG":
                return True
        time.sleep(0.1)
    raise _fail("redis did not answer PING", paths.redis_log)


def _stop_gunicorn(paths: Paths) -> bool:
    # The master lingers for its graceful timeout even once its idle workers have exited; what
    # it serves is disposable, so a short grace then SIGKILL to the whole group is enough.
    return _stop_pid(_gunicorn_running(paths), "gunicorn", group=True, grace=2)


def _gunicorn_running(paths: Paths) -> int | None:
    pid = _read_pid(paths.gunicorn_pid)
    return pid if _alive(pid, "gunicorn") else None


def _gunicorn_start(paths: Paths, note: Note) -> subprocess.Popen:
    """Start gunicorn detached in its own session, so `down` can stop the whole group.

    We detach it ourselves instead of ``--daemon``: with ``--daemon`` the app is not preloaded,
    and each worker then imports NetBox on its own (about 11 s of CPU each). ``--preload``
    imports it once in the master, which halves the start-up on 2 cores.
    """
    _check_port_free(paths.netbox_port, "netbox", "PREAU_NETBOX_PORT")
    note("starting NetBox (gunicorn)")
    paths.gunicorn_pid.unlink(missing_ok=True)
    cmd = _gunicorn_cmd(paths)
    with paths.gunicorn_log.open("a") as fh:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=_netbox_env(paths),
            start_new_session=True,
        )
    # gunicorn writes the same pid once the app is loaded; writing it now lets `down` and the
    # start-up wait see the master while it is still importing NetBox.
    paths.gunicorn_pid.write_text(f"{proc.pid}\n")
    _gunicorn_spec_file(paths).write_text(_gunicorn_spec(paths) + "\n")
    return proc


def _gunicorn_cmd(paths: Paths) -> list[str]:
    return [
        str(venv.venv_python(paths)),
        "-m",
        "gunicorn",
        "--preload",
        "--no-control-socket",  # else instances clash on one shared control socket
        "--pid",
        str(paths.gunicorn_pid),
        "--bind",
        f"127.0.0.1:{paths.netbox_port}",
        "--workers",
        str(GUNICORN_WORKERS),
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        "--chdir",
        str(paths.home),
        f"{_WSGI_MODULE}:application",
    ]


def _gunicorn_spec_file(paths: Paths) -> Path:
    return paths.run_dir / "gunicorn.spec"


def _gunicorn_spec(paths: Paths) -> str:
    """What the running gunicorn was started with: its command, WSGI module and configuration
    (a digest). Another one (an older preau, a new venv) means it must be started again."""
    digest = hashlib.sha256("\0".join(_gunicorn_cmd(paths)).encode())
    digest.update(_WSGI.encode())
    digest.update(_configuration_text(paths).encode())
    return digest.hexdigest()[:16]


def _gunicorn_stale(paths: Paths) -> bool:
    try:
        return _gunicorn_spec_file(paths).read_text().strip() != _gunicorn_spec(paths)
    except OSError:
        return True


def _api_get(url: str, token: str | None, timeout: float = 5) -> tuple[int, dict | None]:
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def api_answers(settings: NetBoxSettings, timeout: float = 2) -> bool:
    """Whether the NetBox at ``settings.url`` answers ``/api/status/`` with this token."""
    try:
        code, _ = _api_get(f"{settings.url}/api/status/", settings.token, timeout)
    except OSError:
        return False
    return code == 200


def _gunicorn_died(paths: Paths, proc: subprocess.Popen | None) -> ServiceError | None:
    """The error to raise if the gunicorn we wait for is gone, else None.

    When this call started it, ``proc`` is the authority: right after a vfork'ed exec the child
    can still show an empty /proc/PID/cmdline, which the pid-file check would take for a death
    (seen in CI on a loaded machine). Its exit status also says how it died.
    """
    if proc is not None:
        returncode = proc.poll()
        if returncode is None:
            return None
        how = (
            f"was killed by {signal.Signals(-returncode).name}"
            if returncode < 0
            else f"exited with status {returncode}"
        )
    elif _gunicorn_running(paths) is None:
        how = "exited"
    else:
        return None
    return _fail(f"NetBox (gunicorn) {how} during start-up", paths.gunicorn_log)


def _wait_api(paths: Paths, token: str, proc: subprocess.Popen | None) -> dict:
    """Wait for the API; ``proc`` is the gunicorn this call started (None: it was running)."""
    deadline = time.monotonic() + API_WAIT_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            code, body = _api_get(f"{paths.url}/api/status/", token)
            if code == 200 and isinstance(body, dict):
                return body
            if code in (401, 403):
                raise ServiceError(
                    f"NetBox refuses the token stored in {paths.client_file}; "
                    "run `preau netbox down --purge` then `preau netbox up`"
                )
        if died := _gunicorn_died(paths, proc):
            raise died
        time.sleep(0.25)
    raise _fail(
        f"NetBox did not answer {paths.url}/api/status/ in {API_WAIT_SECONDS} s", paths.gunicorn_log
    )


# --- public API ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceStatus:
    name: str
    port: int
    pid: int | None
    healthy: bool
    detail: str


@dataclass(frozen=True)
class Status:
    services: tuple[ServiceStatus, ...]
    url: str
    token_set: bool
    token_file: str
    netbox_version: str | None

    @property
    def healthy(self) -> bool:
        return all(s.healthy for s in self.services) and self.token_set

    def to_json(self) -> dict:
        data = asdict(self)
        data["healthy"] = self.healthy
        return data


@contextlib.contextmanager
def _locked(paths: Paths) -> Iterator[None]:
    """One lifecycle operation at a time (pytest-xdist workers, two terminals)."""
    paths.home.mkdir(parents=True, exist_ok=True)
    with paths.lock_file.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _token(paths: Paths) -> str | None:
    try:
        return str(json.loads(paths.client_file.read_text())["token"])
    except (OSError, ValueError, KeyError):
        return None


def status(paths: Paths | None = None) -> Status:
    """Health of each process, measured (not assumed from pidfiles)."""
    paths = paths or Paths.from_env()
    token = _token(paths)
    pg_pid = _pg_running(paths)
    pg_ok = (
        bool(pg_pid)
        and subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(paths.pg_port)],
            env=_pg_env(),
        ).returncode
        == 0
    )
    redis_pid = _redis_running(paths)
    redis_ok = False
    if redis_pid:
        with contextlib.suppress(OSError):
            redis_ok = _redis_cmd(paths.redis_port, "PING") == "+PONG"
    nb_pid = _gunicorn_running(paths)
    nb_ok, nb_detail, version = False, "not running", None
    if nb_pid:
        try:
            code, body = _api_get(f"{paths.url}/api/status/", token)
            nb_ok = code == 200
            nb_detail = "API answers" if nb_ok else f"API answered HTTP {code}"
            if isinstance(body, dict):
                version = body.get("netbox-version")
        except OSError as exc:
            nb_detail = f"API unreachable: {exc}"

    def row(name: str, port: int, pid: int | None, ok: bool, detail_ok: str) -> ServiceStatus:
        detail = detail_ok if ok else ("not running" if not pid else "not answering")
        return ServiceStatus(name, port, pid, ok, detail)

    return Status(
        services=(
            row("postgres", paths.pg_port, pg_pid, pg_ok, "accepting connections"),
            row("redis", paths.redis_port, redis_pid, redis_ok, "PONG"),
            ServiceStatus("netbox", paths.netbox_port, nb_pid, nb_ok, nb_detail),
        ),
        url=paths.url,
        token_set=token is not None,
        token_file=str(paths.client_file),
        netbox_version=version,
    )


def up(
    paths: Paths | None = None,
    *,
    migrate: bool = False,
    step: Callable[[str], None] = _quiet,
    note: Note = _quiet,
) -> bool:
    """Bring the local NetBox up; return False when it was already healthy (nothing done).

    ``step(name)`` is called as each of STEPS begins (for a progress bar); ``note`` gets
    human-readable remarks. ``migrate`` rebuilds the seed by running the migrations, and
    writes a fresh dump into the cache (see the module docstring).
    """
    paths = paths or Paths.from_env()
    with _locked(paths):
        if (
            not migrate
            and venv.is_ready(paths)
            and status(paths).healthy
            and not _gunicorn_stale(paths)
        ):
            return False
        for d in (paths.log_dir, paths.run_dir):
            d.mkdir(parents=True, exist_ok=True)
        paths.home.chmod(0o700)

        step("venv")
        venv.ensure_venv(paths, note)

        step("postgres")
        secrets, fresh = secrets_store.load_or_create(paths.secrets_file)
        _write_configuration(paths)
        _pg_start(paths, note)
        _pg_ensure_role(paths, secrets["db_password"])

        step("redis")
        _redis_start(paths, note)

        step("database")
        reseed = migrate or fresh or not _seed_current(paths, secrets)
        if not reseed and not _db_exists(paths, DB):
            try:
                _psql_super(paths, f"CREATE DATABASE {DB} OWNER {DB_USER} TEMPLATE {SEED_DB}")
            except ServiceError as exc:
                # A reset from a process without the lock (an older preau) re-created it.
                if "already exists" not in str(exc):
                    raise

        step("token")
        if reseed:
            # The gunicorn of an older seed would hold connections to the database we drop.
            _stop_gunicorn(paths)
            _seed(paths, secrets, migrate, note)
        token = secrets_store.api_token(secrets)
        settings = NetBoxSettings(url=paths.url, token=token)
        secrets_store.write_private(paths.client_file, json.dumps(asdict(settings)) + "\n")

        step("netbox")
        _collect_static(paths, note)
        _write_wsgi(paths)
        if _gunicorn_running(paths) and _gunicorn_stale(paths):
            note("restarting NetBox (gunicorn): it runs another preau's command or configuration")
            _stop_gunicorn(paths)
        proc = None if _gunicorn_running(paths) else _gunicorn_start(paths, note)
        _wait_api(paths, token, proc)
        return True


def down(paths: Paths | None = None, *, purge: bool = False) -> list[str]:
    """Stop gunicorn, Redis and PostgreSQL; ``purge`` also deletes state and data.

    Returns the names of the services that were running.
    """
    paths = paths or Paths.from_env()
    stopped = []
    with _locked(paths):
        if _stop_gunicorn(paths):
            stopped.append("netbox")
        pid = _redis_running(paths)
        if _stop_pid(pid, "redis-server"):
            stopped.append("redis")
        if _pg_stop(paths):
            stopped.append("postgres")
        for port, name in (
            (paths.netbox_port, "netbox"),
            (paths.redis_port, "redis"),
            (paths.pg_port, "postgres"),
        ):
            if name in stopped and _port_open(port):
                raise ServiceError(
                    f"{name}: port {port} still answers after stopping; "
                    f"check `ss -ltnp sport = :{port}`"
                )
        if purge:
            shutil.rmtree(paths.pg_root, ignore_errors=True)
            for child in paths.home.iterdir():
                if child != paths.lock_file:
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
    return stopped


def reset(paths: Paths | None = None) -> None:
    """Put the database back to the clean seed (admin user and token kept) in about 0.3 s."""
    paths = paths or Paths.from_env()
    with _locked(paths):  # an `up` checking for the database must not see it half-reset
        _reset(paths)


def _reset(paths: Paths) -> None:
    if not _pg_running(paths):
        raise ServiceError("the local NetBox is not up: run `preau netbox up` first")
    secrets, _ = secrets_store.load_or_create(paths.secrets_file)
    if not _seed_current(paths, secrets):
        raise ServiceError("the seed database is missing or stale: run `preau netbox up`")
    _psql_super(
        paths,
        f"DROP DATABASE IF EXISTS {DB} WITH (FORCE);\n"
        f"CREATE DATABASE {DB} OWNER {DB_USER} TEMPLATE {SEED_DB};",
    )
    # NetBox caches (config revision, object counts) in Redis: they described the old database.
    with contextlib.suppress(OSError):
        if _redis_running(paths):
            _redis_cmd(paths.redis_port, "FLUSHALL")

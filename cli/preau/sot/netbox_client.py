"""One HTTP session to one NetBox: counts calls; transport and auth failures become clear errors.

Everything preau sends to NetBox (pynetbox REST calls, GraphQL queries) goes through the session
built here, so the call counter is exact and a bad URL or token always ends as one
`NetBoxUnavailable` line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pynetbox
import requests

from preau.errors import BadInput, NetBoxUnavailable

# NetBox's default MAX_PAGE_SIZE.
PAGE = 1000
# Bulk writes are chunked so one request stays well under gunicorn's timeout on a busy, small
# machine (a device costs NetBox tens of milliseconds: change log, search cache, serializer),
# and two chunks go at once because NetBox serves requests on several workers.
WRITE_CHUNK = 200
WRITERS = 2
DEADLOCK_RETRIES = 2
TIMEOUT = 300


class _CountingSession(requests.Session):
    """A requests session that counts the HTTP requests it sends (thread-safe)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self._lock = threading.Lock()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(method, url, *args, **kwargs)


def _explain(url: str, exc: Exception) -> NetBoxUnavailable:
    return NetBoxUnavailable(
        f"NetBox at {url} cannot be reached ({type(exc).__name__}): start the local one with "
        "`preau netbox up`, or check PREAU_NETBOX_URL"
    )


class Client:
    """pynetbox plus GraphQL over one counted session."""

    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.session = _CountingSession()
        self.api = pynetbox.api(self.url, token=token, threading=True)
        self.api.http_session = self.session
        self._token = token

    @property
    def calls(self) -> int:
        return self.session.calls

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Translate what can go wrong talking to NetBox into preau errors."""
        try:
            yield
        except requests.exceptions.ConnectionError as exc:
            raise _explain(self.url, exc) from None
        except requests.exceptions.Timeout as exc:
            raise _explain(self.url, exc) from None
        except pynetbox.RequestError as exc:
            status = exc.req.status_code
            if status in (401, 403):
                raise NetBoxUnavailable(
                    f"NetBox at {self.url} refused the token (HTTP {status}) while {doing}: "
                    "check PREAU_NETBOX_TOKEN (a v2 token looks like nbt_<key>.<secret>)"
                ) from None
            raise BadInput(f"NetBox refused {doing} (HTTP {status}): {exc.error}") from None

    def _check_auth(self, resp: requests.Response, doing: str) -> None:
        if resp.status_code in (401, 403):
            raise NetBoxUnavailable(
                f"NetBox at {self.url} refused the token (HTTP {resp.status_code}) while {doing}: "
                "check PREAU_NETBOX_TOKEN (a v2 token looks like nbt_<key>.<secret>)"
            )
        if resp.status_code >= 400:
            raise BadInput(f"NetBox refused {doing} (HTTP {resp.status_code}): {resp.text[:500]}")

    def _headers(self) -> dict[str, str]:
        scheme = "Bearer" if self._token.startswith("nbt_") else "Token"
        return {
            "Authorization": f"{scheme} {self._token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def get(self, path: str, params: dict[str, Any] | None = None, doing: str = "a read") -> Any:
        """One GET on the REST API (no pagination)."""
        try:
            resp = self.session.get(
                f"{self.url}/api/{path}", params=params, headers=self._headers()
            )
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise _explain(self.url, exc) from None
        self._check_auth(resp, doing)
        return resp.json()

    def post(self, path: str, body: Any, doing: str) -> Any:
        try:
            resp = self.session.post(f"{self.url}/api/{path}", json=body, headers=self._headers())
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise _explain(self.url, exc) from None
        self._check_auth(resp, doing)
        return resp.json()

    def graphql(self, query: str, doing: str = "reading the département") -> dict[str, Any]:
        """One GraphQL query; GraphQL-level errors become BadInput with NetBox's message."""
        try:
            resp = self.session.post(
                f"{self.url}/graphql/", json={"query": query}, headers=self._headers()
            )
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise _explain(self.url, exc) from None
        self._check_auth(resp, doing)
        body = resp.json()
        if body.get("errors"):
            msgs = "; ".join(str(e.get("message")) for e in body["errors"][:3])
            raise BadInput(f"NetBox GraphQL refused {doing}: {msgs}")
        data: dict[str, Any] = body["data"]
        return data

    # --- bulk writes: lists in, lists out, chunked -------------------------------------------

    def _endpoint(self, path: str) -> Any:
        app, name = path.split("/")
        return getattr(getattr(self.api, app), name.replace("-", "_"))

    def _chunked(
        self,
        doing: str,
        send: Any,
        items: Sequence[Any],
        parallel: bool = False,
        done: Callable[[int], None] | None = None,
    ) -> list[Any]:
        """Send `items` in chunks; `parallel` only when callers ordered them by what they lock.

        NetBox keeps counters on parent rows (a device type's device count, a device's
        interface count) and a bulk request is one transaction: two chunks that touch the same
        parents in different orders deadlock. Callers sort items by parent, so concurrent chunks
        take their locks in the same order and at worst wait for each other.
        """
        chunks = [list(items[i : i + WRITE_CHUNK]) for i in range(0, len(items), WRITE_CHUNK)]

        def one(chunk: list[Any]) -> Any:
            for attempt in range(DEADLOCK_RETRIES + 1):
                try:
                    with self.errors(doing):
                        out = send(chunk)
                    if done is not None:
                        done(len(chunk))
                    return out
                except BadInput as exc:
                    # The whole request was rolled back: sending it again is safe.
                    if "deadlock detected" not in str(exc) or attempt == DEADLOCK_RETRIES:
                        raise
            raise AssertionError("unreachable")

        if len(chunks) <= 1 or not parallel:
            return [one(c) for c in chunks]
        with ThreadPoolExecutor(WRITERS) as pool:
            return list(pool.map(one, chunks))

    def _write(self, method: str, path: str, body: list[Any], doing: str) -> Any:
        """One bulk request on a list endpoint (REST, a JSON list of objects).

        Not `?fields=id`, though preau only needs the ids back: NetBox's dynamic fields narrow
        the serializer for input too, so the other fields sent would be ignored.
        """
        try:
            resp = self.session.request(
                method,
                f"{self.url}/api/{path}/",
                json=body,
                headers=self._headers(),
            )
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise _explain(self.url, exc) from None
        self._check_auth(resp, doing)
        return resp.json() if resp.content else None

    def create(
        self,
        path: str,
        items: Sequence[dict[str, Any]],
        parallel: bool = False,
        done: Callable[[int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Bulk create; returns the created objects (their ids) in the order of `items`."""
        doing = f"creating {path}"

        def send(chunk: list[Any]) -> Any:
            return self._write("POST", path, chunk, doing)

        results = self._chunked(doing, send, items, parallel, done)
        return [dict(r) for chunk in results for r in chunk]

    def update(
        self,
        path: str,
        items: Sequence[dict[str, Any]],
        parallel: bool = False,
        done: Callable[[int], None] | None = None,
    ) -> None:
        doing = f"updating {path}"
        self._chunked(doing, lambda c: self._write("PATCH", path, c, doing), items, parallel, done)

    def delete(
        self, path: str, ids: Sequence[int], done: Callable[[int], None] | None = None
    ) -> None:
        doing = f"deleting {path}"

        def send(chunk: list[int]) -> Any:
            return self._write("DELETE", path, [{"id": i} for i in chunk], doing)

        self._chunked(doing, send, ids, False, done)

    def all(self, path: str, **filters: Any) -> list[dict[str, Any]]:
        """Every object of an endpoint matching filters, as plain dicts (paged by PAGE)."""
        ep = self._endpoint(path)
        with self.errors(f"reading {path}"):
            return [dict(r) for r in ep.filter(limit=PAGE, **filters)]

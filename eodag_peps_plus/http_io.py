"""HTTP plumbing shared by every backend: one retrying session and one error mapping.

Like pystac-client's ``StacApiIO``: retries (429, 5xx, dropped connections, honouring
``Retry-After``) live in the transport, so backend code reads as the protocol it speaks.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .exceptions import AuthenticationError, BackendError, QuotaExceededError

USER_AGENT = f"eodag-peps-plus/{__version__}"
RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclasses.dataclass(frozen=True)
class Credentials:
    """Account secrets; ``repr`` never shows them so they cannot leak into logs."""

    username: str | None = dataclasses.field(default=None, repr=False)
    password: str | None = dataclasses.field(default=None, repr=False)
    api_key: str | None = dataclasses.field(default=None, repr=False)

    def __repr__(self) -> str:
        parts = []
        if self.username:
            parts.append("username=***")
        if self.password:
            parts.append("password=***")
        if self.api_key:
            parts.append("api_key=***")
        return f"Credentials({', '.join(parts)})"

    @property
    def basic(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password)


def make_session(
    *,
    retries: int = 4,
    backoff_factor: float = 0.5,
    pool_size: int = 16,
    verify: bool | str = True,
    status_forcelist: tuple[int, ...] = RETRY_STATUSES,
) -> requests.Session:
    """A session that retries transient failures for every method we use.

    POST is included: our POSTs are searches and availability look-ups, which are idempotent.
    """
    retry = Retry(
        total=retries,
        connect=min(retries, 2),
        read=retries,
        status=retries,
        backoff_factor=backoff_factor,
        backoff_max=30,
        status_forcelist=status_forcelist,
        allowed_methods=frozenset({"GET", "HEAD", "POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.verify = verify
    return session


def archive_headers(offset: int = 0, if_range: str | None = None) -> dict[str, str]:
    """Headers for fetching an archive, resumed from ``offset`` when the file is unchanged.

    Identity encoding: a compressed transfer would change lengths and break Range arithmetic.
    """
    headers = {
        "Accept": "application/zip, application/octet-stream;q=0.9, */*;q=0.1",
        "Accept-Encoding": "identity",
    }
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if if_range:
            headers["If-Range"] = if_range
    return headers


def send(
    session: requests.Session, method: str, url: str, what: str, **kwargs: Any
) -> requests.Response:
    """``session.request`` whose network failures become one clear ``BackendError``."""
    try:
        return session.request(method, url, **kwargs)
    except requests.exceptions.SSLError as exc:
        raise BackendError(
            f"{what}: TLS verification failed for {_host(url)} ({exc.__class__.__name__})"
        ) from None
    except requests.exceptions.Timeout:
        raise BackendError(f"{what}: {_host(url)} did not answer in time") from None
    except requests.exceptions.ConnectionError:
        raise BackendError(
            f"{what}: cannot connect to {_host(url)} (is the URL right and the server up?)"
        ) from None
    except requests.RequestException as exc:
        raise BackendError(
            f"{what}: request to {_host(url)} failed ({exc.__class__.__name__})"
        ) from None


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def json_or_error(response: requests.Response, what: str) -> Any:
    """Decode a JSON reply or raise the typed error that says what to fix."""
    check_status(response, what)
    try:
        data = orjson.loads(response.content)  # several times faster than json on big pages
    except ValueError:
        snippet = response.text[:120].replace("\n", " ")
        raise BackendError(
            f"{what}: the server did not answer JSON (HTTP {response.status_code}: {snippet!r})",
            response.status_code,
        ) from None
    if isinstance(data, dict) and "ErrorCode" in data:  # resto errors, sometimes with HTTP 200
        code = data.get("ErrorCode")
        message = data.get("ErrorMessage", "")
        exc_type = AuthenticationError if code in (401, 403, "401", "403") else BackendError
        raise exc_type(f"{what}: server error {code}: {message}", _int_or_none(code))
    return data


def check_status(response: requests.Response, what: str) -> None:
    status = response.status_code
    if status in (401, 403):
        raise AuthenticationError(
            f"{what}: credentials refused (HTTP {status}); check the username/password or "
            "API key in your EODAG config or EODAG__<PROVIDER>__AUTH__CREDENTIALS__* variables",
            status,
        )
    if status == 429:
        raise QuotaExceededError(
            f"{what}: too many requests (HTTP 429) even after retries; wait and try again",
            status,
        )
    if status >= 400:
        detail = error_detail(response)
        raise BackendError(f"{what}: HTTP {status}{': ' + detail if detail else ''}", status)


def error_detail(response: requests.Response) -> str:
    """The server's own words about an error (JSON message field, or the start of the body)."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip().replace("\n", " ")
    if isinstance(data, dict):
        for key in ("ErrorMessage", "description", "detail", "message", "title"):
            if data.get(key):
                return str(data[key])
    return str(data)[:200]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

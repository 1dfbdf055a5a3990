"""EODAG auth plugin: credentials from the user's EODAG config become our ``Credentials``.

PEPS wants HTTP Basic (e-mail + password), GEODES an ``X-API-Key`` header; one plugin serves
both so a provider config only says ``type: PepsPlusAuth``.
"""

from __future__ import annotations

from typing import Any

import requests
from eodag.plugins.authentication.base import Authentication
from eodag.utils.exceptions import MisconfiguredError

from ..eodag_support import credentials_from_env
from ..http_io import Credentials

#: Names users write in eodag.yml for each secret.
_USER_KEYS = ("username", "email", "user")
_PASSWORD_KEYS = ("password",)
_API_KEYS = ("apikey", "api_key", "x_api_key")


class ApiKeyAuth(requests.auth.AuthBase):
    """Adds ``X-API-Key``; its repr hides the key."""

    def __init__(self, key: str) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["X-API-Key"] = self._key
        return request

    def __repr__(self) -> str:
        return "ApiKeyAuth(***)"


class PepsPlusAuth(Authentication):
    """``authenticate()`` returns a requests auth; ``credentials()`` the typed secrets."""

    def credentials(self) -> Credentials:
        raw: dict[str, Any] = dict(getattr(self.config, "credentials", None) or {})
        values = {k.lower(): v for k, v in raw.items() if v not in (None, "")}
        creds = Credentials(
            username=next((str(values[k]) for k in _USER_KEYS if k in values), None),
            password=next((str(values[k]) for k in _PASSWORD_KEYS if k in values), None),
            api_key=next((str(values[k]) for k in _API_KEYS if k in values), None),
        )
        if creds.basic is None and creds.api_key is None:
            # Set after the gateway was built (tests, notebooks): EODAG did not read them.
            creds = credentials_from_env(self.provider)
        if creds.basic is None and creds.api_key is None:
            name = self.provider.upper()
            raise MisconfiguredError(
                f"Missing credentials for provider {self.provider}: set username and password "
                f"(PEPS) or apikey (GEODES) under {self.provider}.auth.credentials in eodag.yml, "
                f"or EODAG__{name}__AUTH__CREDENTIALS__USERNAME / ..._PASSWORD / ..._APIKEY"
            )
        return creds

    def authenticate(self) -> requests.auth.AuthBase:
        creds = self.credentials()
        if creds.api_key is not None:
            return ApiKeyAuth(creds.api_key)
        assert creds.basic is not None
        return requests.auth.HTTPBasicAuth(*creds.basic)

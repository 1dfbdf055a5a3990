"""EODAG auth plugin: credentials from the user's EODAG config become our ``Credentials``.

PEPS wants HTTP Basic (e-mail + password), GEODES an ``X-API-Key`` header; one plugin serves
both so a provider config only says ``type: PepsPlusAuth``.

Plugin config keys (provider YAML ``auth:`` block):

- ``credentials`` (dict, default ``{}``): ``username``/``email``/``user`` and ``password``
  (PEPS), or ``apikey``/``api_key``/``x_api_key`` (GEODES); the environment
  (``EODAG__<PROVIDER>__AUTH__CREDENTIALS__*``) wins, as everywhere in EODAG.
- ``trusted_origins`` (list of str, default ``[]``): extra ``scheme://host[:port]`` origins
  (mirrors) the credentials may be sent to, besides the provider's configured server.
"""

from __future__ import annotations

from eodag.plugins.authentication.base import Authentication
from eodag.utils.exceptions import MisconfiguredError

from ..backends import spec_for_provider
from ..backends.credentials import (
    configured_endpoint,
    credentials_from_mapping,
    from_environment,
    resolve,
    trusted_origins,
)
from ..http_io import Credentials, OriginBoundAuth, safe_origin


class PepsPlusAuth(Authentication):
    """``authenticate()`` returns an origin-bound requests auth; ``credentials()`` the secrets."""

    def credentials(self) -> Credentials:
        """The provider's secrets, by the one precedence of
        :func:`~eodag_peps_plus.backends.credentials.resolve` (environment, this config,
        eodag.yml), ``source`` naming where they were found.

        Raises:
            MisconfiguredError: none are configured (the message says how, for this provider).
        """
        config = dict(getattr(self.config, "credentials", None) or {})
        spec = spec_for_provider(self.provider)
        if spec is not None:
            creds = resolve(spec, eodag_config=config)
            if creds.basic is None and creds.api_key is None:
                raise MisconfiguredError(
                    f"Missing credentials for provider {self.provider} ({spec.label}): "
                    f"{spec.credentials_help()}"
                )
            return creds
        creds = from_environment(self.provider)
        if creds.basic is None and creds.api_key is None:
            creds = credentials_from_mapping(config, f"{self.provider}.auth.credentials")
        if creds.basic is None and creds.api_key is None:
            raise MisconfiguredError(
                f"Missing credentials for provider {self.provider}: set them under "
                f"{self.provider}.auth.credentials in eodag.yml"
            )
        return creds

    def trusted_origins(self) -> list[str]:
        """Mirrors the user chose to trust (``trusted_origins``); none by default."""
        return trusted_origins(self.provider, getattr(self.config, "trusted_origins", None))

    def origins(self) -> frozenset[str]:
        """Where EODAG may send these credentials: the configured server (else the public
        one), its documented hosts, and the trusted mirrors."""
        spec = spec_for_provider(self.provider)
        endpoint = configured_endpoint(self.provider) or (spec.default_url if spec else "")
        if spec is not None and endpoint:
            return spec.credential_origins(endpoint, self.trusted_origins())
        found = {safe_origin(url) for url in [endpoint, *self.trusted_origins()]}
        return frozenset(o for o in found if o)

    def authenticate(self) -> OriginBoundAuth:
        """A requests auth that EODAG may attach anywhere (quicklooks, downloads): it adds the
        secret only to requests for :meth:`origins`."""
        spec = spec_for_provider(self.provider)
        kind = spec.auth if spec is not None and spec.auth != "none" else None
        return OriginBoundAuth(self.credentials(), self.origins(), kind)

    def __repr__(self) -> str:
        return f"PepsPlusAuth({self.provider!r})"


__all__ = ["PepsPlusAuth"]

"""EODAG's ways, for code that runs outside EODAG's own machinery.

A gateway that knows our providers, installed or not: EODAG finds ``providers.yml`` only in
a regular install; from a source checkout (editable install, tests, benchmarks) the same file
is registered from code, so every path runs the same configuration. And credentials read the
way EODAG reads them, for the CLI and for plugins EODAG hands no auth.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .http_io import Credentials


def providers_yaml() -> str:
    """Our providers file: the installed copy, else the checkout's top-level one."""
    installed = resources.files("eodag_peps_plus").joinpath("providers.yml")
    if installed.is_file():
        return installed.read_text()
    return (Path(__file__).resolve().parent.parent / "providers.yml").read_text()


def provider_names() -> list[str]:
    return [name for name in yaml.safe_load(providers_yaml()) or {}]


def gateway(**endpoints: str) -> Any:
    """An ``EODataAccessGateway`` with our providers, base URLs overridden per provider
    (``gateway(peps="http://127.0.0.1:8642")``) as a user config would."""
    from eodag import EODataAccessGateway

    dag = EODataAccessGateway()
    missing = [name for name in provider_names() if name not in dag.providers]
    if missing:
        dag.update_providers_config(providers_yaml())
        for name in missing:
            if name in dag._providers:
                dag._providers[name].sync_collections(dag, strict_mode=False)
    if endpoints:
        overrides = {name: {"search": {"api_endpoint": url}} for name, url in endpoints.items()}
        dag.update_providers_config(yaml.safe_dump(overrides))
    return dag


def credentials_from_env(provider: str) -> Credentials:
    """Credentials the EODAG way: ``EODAG__<PROVIDER>__AUTH__CREDENTIALS__*`` or eodag.yml."""
    prefix = f"EODAG__{provider.upper()}__AUTH__CREDENTIALS__"
    env = {k[len(prefix) :].lower(): v for k, v in os.environ.items() if k.startswith(prefix)}
    if not env:
        env = _from_eodag_yml(provider)
    return Credentials(
        username=env.get("username") or env.get("email"),
        password=env.get("password"),
        api_key=env.get("apikey") or env.get("api_key"),
    )


def _from_eodag_yml(provider: str) -> dict[str, str]:
    path = Path(os.environ.get("EODAG_CFG_FILE") or Path.home() / ".config" / "eodag" / "eodag.yml")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    creds = ((data.get(provider) or {}).get("auth") or {}).get("credentials") or {}
    return {str(k).lower(): str(v) for k, v in creds.items() if v is not None}

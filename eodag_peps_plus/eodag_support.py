"""Getting an EODAG gateway that knows our providers, installed or not.

EODAG finds ``providers.yml`` only in a regular install; from a source checkout (editable
install, tests, benchmarks) the same file is registered from code, so every path runs the
same configuration.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml


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

"""A downstream project type-checks against the installed package (``py.typed``): the main
names reach ``mypy --strict`` with their real types, not ``Any``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

USER_CODE = """
from eodag_peps_plus import (
    BackendError, Client, Downloader, MajaJobs, Product, Query, StagingOptions,
)

def use(client: Client, error: BackendError) -> None:
    reveal_type(client)
    reveal_type(Downloader)
    reveal_type(MajaJobs)
    reveal_type(Product)
    reveal_type(Query)
    reveal_type(StagingOptions)
    reveal_type(error.status_code)
    reveal_type(error.server)
"""


@pytest.mark.slow
def test_main_names_type_check_downstream(tmp_path: Path) -> None:
    source = tmp_path / "downstream.py"
    source.write_text(USER_CODE)
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--cache-dir", str(tmp_path / "cache"), str(source)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    revealed = [line for line in run.stdout.splitlines() if "Revealed type" in line]
    assert len(revealed) == 8, run.stdout + run.stderr
    assert not any('"Any"' in line for line in revealed), "\n".join(revealed)
    assert "error:" not in run.stdout, run.stdout
    assert revealed[6].endswith('"int | None"') and revealed[7].endswith('"str | None"')

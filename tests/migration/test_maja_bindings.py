"""Issue 23: every MAJA example of the legacy READMEs (maja_peps's readme and the scripts' usage
lines), run through ``peps-plus migrate`` in order, against a job store that already holds
other users' and other tiles' jobs: each download folder gets exactly its own jobs' L2A.

The legacy workflow is one log (or one product list) and one folder per tile; a translation
that fetched "every finished job of the store" put 50 unrelated L2A into the 31TCJ folder.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.processing.jobs import MajaJobs
from eodag_peps_plus.processing.store import JobRecord, JobStore, product_jobs
from eodag_peps_plus.sandbox import DEFAULT_API_KEY, Sandbox, SandboxConfig

from .conftest import BIN, SUBPROCESS_TIMEOUT, Run, server_env
from .test_migrate import migrate  # noqa: F401 - the fixture

FAST = 0.00005
#: maja_peps's readme, in its order, then the scripts' usage lines; (legacy line, exit code).
PROCESS = [
    ("full_maja_process.py -t 31TCJ -a peps.txt -d 2017-07-01 -e 2018-01-01 -l 31TCJ_20170101.log", 0),
    ("full_maja_process.py -a peps.txt -t 31TCJ -o 51 -l Full_MAJA_31TCJ_51_2019.log -d 2018-01-01 -e 2018-03-01", 0),
    ("peps_maja_process.py -l Toulouse -a peps.txt -d 2017-11-01 -f 2017-12-01 -p prod_list_toulouse.txt", 0),
    # The readme's next two lines overlap the first: refused (duplicates), the list is kept.
    ("peps_maja_process.py --lon 1 --lat 43.5 -a peps.txt -d 2017-11-01 -f 2017-12-01 -p prod_list_toulouse.txt", 1),
    ("peps_maja_process.py 2 --lon 1 --lat 43.5 -a peps.txt -d 2017-11-01 -f 2017-12-01 -o 51 -p prod_list_toulouse.txt", 1),
]  # fmt: skip
DOWNLOAD = [
    ("full_maja_download.py -a peps.txt -l 31TCJ_20170101.log -w 31TCJ", "31TCJ"),
    ("full_maja_download.py -a peps.txt -l 31TCJ_20170101.log", "."),
    ("full_maja_download.py -a peps.txt -g Full_MAJA_31TCJ_51_2019.log -w ./Full_MAJA_31TCJ_51_2019", "Full_MAJA_31TCJ_51_2019"),
    ("peps_maja_download.py -p prod_list_toulouse.txt -a peps.txt -w PEPS_MAJA", "PEPS_MAJA"),
]  # fmt: skip


def _bash(text: str, env: dict[str, str], cwd: Path) -> Run:
    done = subprocess.run(
        ["bash", "-e", "-c", text],
        cwd=cwd,
        env={**env, "PATH": f"{BIN}:{env.get('PATH', '')}"},
        input="yes\n",  # the 10-product confirmation of peps_maja_process, answered
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def _zips(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.zip")}


def _wanted(records: list[JobRecord]) -> set[str]:
    return {r.filename for job in records for r in job.results if not r.novald}


def _others(sandbox: Sandbox, store: JobStore) -> list[JobRecord]:
    """Another tile's series over the same period, another user's series on 31TCJ, and
    per-product jobs of another tile: all finished, all fetchable."""
    backend = get_backend("geodes", sandbox.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
    jobs = MajaJobs(backend, store)
    records = [
        jobs.submit_series("31TFJ", "2017-07-01", "2018-01-01"),
        jobs.submit_series("31TCJ", "2019-03-01", "2019-05-01", 51),
    ]
    others = [e.name for e in sandbox.catalogue if e.tile == "32TLR" and e.product_type == "S2MSI1C"]  # fmt: skip
    records += jobs.submit_products(sorted(others)[400:403])
    for record in records:
        jobs.wait(record.id, interval=0.05, max_interval=0.3, timeout=120)
    return [store.get(r.id) for r in records]


@pytest.mark.slow
def test_every_readme_maja_example_fills_only_its_own_folder(
    migrate: Callable[..., Run],  # noqa: F811
    make_sandbox: Callable[..., Sandbox],
    clean_env: dict[str, str],
    workdir: Path,
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=FAST))
    env = {**clean_env, **server_env(sb.url, "geodes")}
    store = JobStore(clean_env["PEPS_PLUS_JOB_STORE"])
    others = _others(sb, store)
    assert _wanted(others)
    before = {r.id for r in store.list()}

    logs: dict[str, int] = {}
    for line, code in PROCESS:
        printed = migrate("--only", "peps-plus", "--", *line.split(), env=env)
        assert printed.code == 0, f"{line}: {printed.err}"
        run = _bash(printed.out, env, workdir)
        assert run.code == code, f"{line} -> {printed.out}: {run.text}"
        if code:
            assert "--resubmit" in run.err, run.err
        if "full_maja_process" in line:
            log = line.split("-l ")[1].split()[0]
            logs[log] = int(next(v for k, v in (ln.split("=", 1) for ln in (workdir / log).read_text().splitlines() if "=" in ln) if k == "job"))  # fmt: skip
    ours = [r for r in store.list() if r.id not in before]
    waited = _bash("peps-plus maja wait --interval 0.05 --max-interval 0.3 --no-progress", env, workdir)  # fmt: skip
    assert waited.code == 0, waited.text

    for line, folder in DOWNLOAD:
        printed = migrate("--only", "peps-plus", "--", *line.split(), env=env)
        assert printed.code == 0, f"{line}: {printed.err}"
        assert "--log" in printed.out or "--products-file" in printed.out, printed.out
        run = _bash(printed.out, env, workdir)
        assert run.code == 0, f"{line} -> {printed.out}: {run.text}"
        if "full_maja_download" in line:
            log = line.split(" -l ")[-1].split()[0] if " -l " in line else line.split(" -g ")[1].split()[0]  # fmt: skip
            own = [store.get(logs[log])]
        else:
            names = (workdir / "prod_list_toulouse.txt").read_text().split()
            own = list(product_jobs(store.list(), names).values())
            assert own and len(own) == len(names)
        got = _zips(workdir / folder)
        assert got == _wanted(own), f"{line}: {sorted(got ^ _wanted(own))[:5]}"
        assert not got & _wanted(others)
    assert {r.id for r in ours} >= set(logs.values())

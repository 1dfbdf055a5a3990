"""Issue 23: the drop-ins end as the legacy scripts did (``sys.exit(-1)`` is 255 to a shell),
refuse ``-c S2ST`` before 2016-12-05 with the old advice, ignore stray words as optparse did,
and print the lines scripts grep for (``N  products to download``, ``product saved as :``).

The statuses are the scripts' own (olivierhagolle/peps_download and maja_peps): a cron line
``peps_download ... || mail ...`` keeps its meaning."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from eodag_peps_plus.sandbox import Sandbox, SandboxConfig

from .conftest import Run, auth_file, server_env
from .test_migrate import migrate  # noqa: F401 - the fixture

ONE_DAY = ["-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-06", "-f", "2017-01-07"]


@pytest.mark.parametrize(
    ("name", "args", "code", "message"),
    [
        ("peps_download", ["-c", "S2ST", "-d", "2017-01-01"], 255, "provide at least a point"),
        ("peps_download", ["-t", "31TCJ", "-l", "Toulouse"], 255, "not tile and location"),
        ("peps_download", ["-t", "31TC"], 252, "tile"),
        ("peps_download", ["-c", "S1", "--sat", "S2A", "-t", "31TCJ"], 255, "S2A"),
        (
            "peps_download",
            ["-c", "S2ST", "-t", "31TCJ", "-d", "2015-11-01", "-f", "2015-12-01"],
            255,
            "please use option -c S2",
        ),  # fmt: skip
        (
            "peps_download",
            ["-c", "S2ST", "-t", "31TCJ", "-d", "2030-01-01", "-f", "2030-02-01"],
            255,
            "No product matches",
        ),  # fmt: skip
        ("peps_download", ["-c", "S2ST", "-t", "31TCJ", "-a", "nope.txt"], 254, "not found"),
        ("peps_maja_process", ["-t", "31TC", "-p", "p.txt"], 252, "tile"),
        (
            "peps_maja_process",
            ["-t", "31TCJ", "-d", "2030-01-01", "-f", "2030-02-01", "-p", "p.txt"],
            255,
            "No product",
        ),  # fmt: skip
        ("peps_maja_download", ["-p", "missing.txt"], 254, "product list"),
        ("full_maja_process", ["-t", "31TCJ", "-d", "2019-03-01", "-e", "2019-03-20"], 251, "days"),
        (
            "full_maja_process",
            ["-t", "31TCJ", "-d", "2016-01-01", "-e", "2016-06-01"],
            251,
            "2016-04-01",
        ),  # fmt: skip
        ("full_maja_process", ["-t", "31TC", "-d", "2019-03-01", "-e", "2019-05-01"], 1, "tile"),
        ("full_maja_download", ["-l", "missing.log"], 253, "log file not found"),
        ("full_maja_download", ["-l", "raw.log"], 252, "not written by peps-plus"),
        ("peps_download", ["--bogus"], 2, "No such option"),  # optparse's usage errors: 2
    ],
)
def test_legacy_exit_statuses(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path,
    name: str, args: list[str], code: int, message: str,
) -> None:  # fmt: skip
    (workdir / "raw.log").write_text('<wps:ExecuteResponse statusLocation="x/pywps-1.xml"/>\n')
    auth = [] if "-a" in args else ["-a", auth_file(workdir, "geodes")]
    run = legacy(name, *args, "--url", sandbox.url, *auth)
    assert run.code == code, run.text
    assert message in run.text and "Traceback" not in run.text


def test_s2st_straddling_the_tiled_date_gets_the_advice_and_the_tiled_part(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path
) -> None:
    run = legacy("peps_download", "-c", "S2ST", "-t", "31TCJ", "-d", "2016-11-20", "-f",
                 "2016-12-20", "-n", "--url", sandbox.url, "-a", auth_file(workdir, "geodes"))  # fmt: skip
    assert run.code == 0, run.text
    assert "please use option -c S2 to get the products before that date" in run.out
    names = [ln.split()[0] for ln in run.out.splitlines() if ln.startswith("S2")]
    assert names and all(n.split("_")[2][:8] >= "20161205" for n in names)


def test_stray_words_are_ignored_as_optparse_did(
    legacy: Callable[..., Run], migrate: Callable[..., Run], sandbox: Sandbox, workdir: Path,  # noqa: F811
) -> None:  # fmt: skip
    """``peps_maja_process.py 2 --lon 1 --lat 43.5 ...``: copied from two legacy READMEs."""
    line = ["2", "--lon", "1", "--lat", "43.5", "-d", "2019-03-01", "-f", "2019-03-10", "-o", "51", "-p", "p.txt", "-n"]  # fmt: skip
    run = legacy("peps_maja_process", *line, "--url", sandbox.url, "-a", auth_file(workdir, "geodes"))  # fmt: skip
    assert run.code == 0, run.text
    assert "Ignoring 2" in run.err and (workdir / "p.txt").read_text().split()
    printed = migrate("--", "peps_maja_process.py", *line, env=server_env(sandbox.url, "geodes"))
    assert printed.code == 0, printed.err
    assert "#   2: not an option; ignored" in printed.out


def test_migrate_refuses_s2st_before_the_tiled_date_with_the_advice(
    migrate: Callable[..., Run],  # noqa: F811
) -> None:
    """The legacy README's own example: ``-c S2ST ... -d 2015-11-01 -f 2015-12-01 -o 51``."""
    run = migrate("--", "peps_download.py", "-c", "S2ST", "--lon", "1", "--lat", "43.5", "-a",
                  "peps.txt", "-d", "2015-11-01", "-f", "2015-12-01", "-o", "51")  # fmt: skip
    assert run.code == 1 and "please use option -c S2" in run.err


def test_the_lines_scripts_grep_for(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=0.001, restore_latency=(100, 300)))
    # PEPS: every product of the day comes online (GEODES refuses its Tier3 ones, HTTP 410)
    common = [*ONE_DAY, "--url", sb.url, "-a", auth_file(workdir, "peps"), "--backend", "peps", "-w", "out"]  # fmt: skip
    run = legacy("peps_download", *common)
    assert run.code == 0, run.text
    zips = sorted((workdir / "out").glob("*.zip"))
    assert f"{len(zips)}  products to download" in run.out.splitlines()
    assert sorted(ln for ln in run.out.splitlines() if ln.startswith("product saved as : ")) == [
        f"product saved as : out/{z.name}"
        for z in zips  # "<write_dir>/<name>.zip", as before
    ]
    again = legacy("peps_download", *common)
    assert again.code == 0 and all(f"{z.stem} already exists" in again.out for z in zips)
    extracted = legacy("peps_download", *common[:-1], "safe", "-x")
    assert extracted.code == 0, extracted.text
    assert "product saved as : " in extracted.out and ".SAFE" in extracted.out


@pytest.mark.parametrize(
    ("collection", "start", "end", "searched", "advice"),
    [
        ("S2ST", "2017-01-01", "2017-02-01T00:00:00Z", "2017-01-01", False),
        ("S2ST", "2016-11-01", None, "2016-12-05", True),
        ("S2ST", None, None, "2016-12-05", False),  # never S2's products behind the user's back
        ("S2", "2015-11-01", "2015-12-01T00:00:00Z", "2015-11-01", False),
    ],
)
def test_tiled_start(
    collection: str, start: str | None, end: str | None, searched: str, advice: bool
) -> None:
    from eodag_peps_plus.cli.legacy import tiled_start

    got, lines = tiled_start(collection, start, end)
    assert got == searched and bool(lines) == advice

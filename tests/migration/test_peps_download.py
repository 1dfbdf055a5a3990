"""``peps_download``: the documented examples give the unified search's products on both
backends, the legacy file layout, the legacy refusals, and none of the legacy complaints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.legacy.gazetteer import resolve_town
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Catalogue,
    Sandbox,
    SandboxConfig,
)

from .conftest import Run, auth_file
from .examples import EXAMPLE_IDS, PEPS_DOWNLOAD

BACKENDS = ["peps", "geodes"]
CREDENTIALS = Credentials(DEFAULT_USER, DEFAULT_PASSWORD, DEFAULT_API_KEY)


def unified_ids(url: str, backend: str, fields: dict[str, Any]) -> set[str]:
    """The unified search (``Query`` + backend), independent of the legacy code path."""
    fields = dict(fields)
    if backend != "peps" and "location" in fields:
        town = resolve_town(fields.pop("location"))
        fields["point"] = (town.lon, town.lat)
    server = get_backend(backend, url, credentials=CREDENTIALS)
    return {p.id for p in server.search(Query.create(**fields))}


def listed(run: Run) -> set[str]:
    """Products the legacy command listed (``<name> <storage>`` lines)."""
    return {line.split()[0] for line in run.out.splitlines() if line.startswith("S")}


def saved_ids(path: Path) -> set[str]:
    data = json.loads(path.read_text())
    return {f["properties"]["productIdentifier"] for f in data["features"]}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("args", "fields"), PEPS_DOWNLOAD, ids=EXAMPLE_IDS)
def test_documented_examples_match_the_unified_search(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path, backend: str,
    args: list[str], fields: dict[str, Any],
) -> None:  # fmt: skip
    run = legacy(
        "peps_download", *args, "-a", auth_file(workdir, backend), "-n",
        "--backend", backend, "--url", sandbox.url,
    )  # fmt: skip
    assert run.code == 0, run.err
    expected = unified_ids(sandbox.url, backend, fields)
    assert expected, "the example should find products in the sandbox"
    assert listed(run) == expected
    assert saved_ids(workdir / "search.json") == expected
    assert run.err.count(f"Using {backend.upper()} at {sandbox.url}") == 1
    assert not list(workdir.glob("*.zip"))  # -n downloads nothing


@pytest.mark.parametrize(("args", "fields"), PEPS_DOWNLOAD[:3], ids=EXAMPLE_IDS[:3])
def test_both_backends_give_the_same_products(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path,
    args: list[str], fields: dict[str, Any],
) -> None:  # fmt: skip
    found = {}
    for backend in BACKENDS:
        run = legacy("peps_download", *args, "-n", "-a", auth_file(workdir, backend),
                     "--backend", backend, "--url", sandbox.url)  # fmt: skip
        assert run.code == 0, run.err
        found[backend] = listed(run)
    assert found["peps"] == found["geodes"]


def test_end_date_is_midnight_like_on_peps(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path
) -> None:
    """The legacy README: ``-d 2015-11-01 -f 2015-11-01`` finds nothing."""
    run = legacy("peps_download", "-c", "S2", "-t", "31TCJ", "-d", "2015-11-03", "-f",
                 "2015-11-03", "-n", "--url", sandbox.url, "-a", auth_file(workdir, "geodes"))  # fmt: skip
    assert run.code == 255 and not listed(run)  # legacy: "no product", sys.exit(-1)
    run = legacy("peps_download", "-c", "S2", "-t", "31TCJ", "-d", "2015-11-03", "-f",
                 "2015-11-04", "-n", "--url", sandbox.url, "-a", auth_file(workdir, "geodes"))  # fmt: skip
    assert listed(run)


def test_default_backend_is_geodes_and_env_selects_peps(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-01-10", "-n", "--url", sandbox.url]
    run = legacy("peps_download", *args, "-a", auth_file(workdir, "geodes"))
    assert run.code == 0 and "Using GEODES" in run.err
    monkeypatch.setenv("PEPS_PLUS_LEGACY_BACKEND", "peps")
    run = legacy("peps_download", *args, "-a", auth_file(workdir, "peps"))
    assert run.code == 0 and "Using PEPS" in run.err


def test_more_than_500_results_are_all_listed(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path
) -> None:
    args = ["-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-01", "-f", "2019-06-01", "-n"]
    fields = {"collection": "S2ST", "tile": "31TCJ", "start": "2017-01-01", "end": "2019-06-01T00:00:00Z"}  # fmt: skip
    for backend in BACKENDS:
        run = legacy("peps_download", *args, "--backend", backend, "--url", sandbox.url,
                     "-a", auth_file(workdir, backend))  # fmt: skip
        assert run.code == 0, run.err
        assert len(listed(run)) > 500
        assert listed(run) == unified_ids(sandbox.url, backend, fields)
        assert saved_ids(workdir / "search.json") == listed(run)


# -- refusals ------------------------------------------------------------------------------------
REFUSALS = [
    (["-c", "S2ST", "-d", "2017-01-01"], "provide at least a point"),
    (["-t", "31TCJ", "--lat", "43", "--lon", "1"], "not tile and point"),
    (["-l", "Toulouse", "--lonmin", "1", "--lonmax", "2", "--latmin", "43", "--latmax", "44"], "not location and box"),  # fmt: skip
    (["--lat", "43"], "point: give both --lat and --lon"),
    (["--lonmin", "1", "--lonmax", "2", "--latmin", "43"], "box: give all four"),
    (["-t", "31TC"], "not an MGRS tile"),
    (["-t", "T31TCJX"], "not an MGRS tile"),
    (["-c", "S2", "--sat", "S1A", "-t", "31TCJ"], "S1A does not belong to collection S2"),
    (["-c", "S1", "--sat", "S2B", "--lat", "43", "--lon", "1"], "S2B does not belong to collection S1"),
    (["-c", "S5", "-t", "31TCJ"], "'S5' is not one of"),
    (["-l", "Paris", "-d", "2017-01-01"], "ambiguous"),
    (["-l", "Toulose", "-d", "2017-01-01"], "did you mean Toulouse"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), REFUSALS, ids=[m for _, m in REFUSALS])
def test_refusals_are_one_line_and_write_nothing(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path, args: list[str], message: str
) -> None:
    run = legacy("peps_download", *args, "--url", sandbox.url, "-a", auth_file(workdir, "geodes"))
    assert run.code != 0
    assert message in run.err
    assert "Traceback" not in run.err
    assert not (workdir / "search.json").exists()


def test_ambiguous_town_lists_candidates_and_a_country_code_picks_one(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path
) -> None:
    run = legacy("peps_download", "-l", "Paris", "-n", "--url", sandbox.url, "-a", auth_file(workdir, "geodes"))  # fmt: skip
    assert run.code == 1
    assert "Paris (FR, population" in run.err and "Paris (US, population" in run.err
    assert "lat 48.85" in run.err
    run = legacy("peps_download", "-l", "Paris,FR", "-c", "S2ST", "-d", "2017-01-01", "-f",
                 "2017-01-15", "-n", "--url", sandbox.url, "-a", auth_file(workdir, "geodes"))  # fmt: skip
    assert run.code == 0, run.err
    assert all("T31UDQ" in name for name in listed(run)) and listed(run)


# -- downloads -----------------------------------------------------------------------------------
def _entry(catalogue: Catalogue, storage: str, tile: str = "31TCJ") -> Any:
    return next(e for e in catalogue if e.storage == storage and e.tile == tile and e.collection == "S2ST")  # fmt: skip


def _day_args(entry: Any) -> list[str]:
    day = entry.start.date()
    return ["-c", "S2ST", "-t", entry.tile, "-d", day.isoformat(), "-f",
            day.fromordinal(day.toordinal() + 1).isoformat()]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_download_layout_zip_then_safe_with_x(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], catalogue: Catalogue,
    workdir: Path, backend: str,
) -> None:  # fmt: skip
    sb = make_sandbox(
        SandboxConfig(time_scale=0.001, restore_latency=(100, 300), unknown_restores=True)
    )
    args = ["-t", "31TCJ", "-c", "S2ST", "-d", "2017-01-01", "-f", "2017-01-12", "--backend",
            backend, "--url", sb.url, "-a", auth_file(workdir, backend), "--timeout", "1"]  # fmt: skip
    run = legacy("peps_download", *args, "-w", "zips")
    names = saved_ids(workdir / "search.json")
    done = {line.split()[0] for line in run.out.splitlines() if "  done  " in line}
    assert done and done <= names
    for name in done:
        archive = workdir / "zips" / f"{name}.zip"
        assert archive.stat().st_size == catalogue.by_name[name].size
    for path in (workdir / "zips").iterdir():  # never a 0-byte or JSON "product"
        if path.suffix == ".zip":
            assert path.read_bytes()[:2] == b"PK"
    run = legacy("peps_download", *args, "-w", "zips")  # already there: skipped
    assert run.out.count("already on disk") >= len(done)
    run = legacy("peps_download", *args, "-w", "safe", "-x")
    done = {line.split()[0] for line in run.out.splitlines() if "  done  " in line}
    assert done
    for name in done:
        assert (workdir / "safe" / f"{name}.SAFE").is_dir()
        assert not (workdir / "safe" / f"{name}.zip").exists()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reply", ["200-json", "200-empty"])
def test_product_never_leaving_tape_times_out_with_a_report(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], catalogue: Catalogue,
    workdir: Path, backend: str, reply: str,
) -> None:  # fmt: skip
    """No endless loop, and the "not yet" replies (JSON, empty 200) are never saved. (GEODES
    answers them only under the assumed restore-on-download profile.)"""
    stuck = _entry(catalogue, "tape")
    sb = make_sandbox(
        SandboxConfig(time_scale=0.001, restore_latency=(100, 300),
                      never_finish=frozenset({stuck.name}), offline_reply=reply,
                      geodes_archive="restore-on-download")
    )  # fmt: skip
    run = legacy("peps_download", *_day_args(stuck), "--backend", backend, "--url", sb.url,
                 "-a", auth_file(workdir, backend), "--timeout", "0.05", "-w", "out")  # fmt: skip
    assert run.code == 2
    report = [line for line in run.out.splitlines() if line.startswith(stuck.name) and "  " in line]
    assert report and "unavailable" in report[-1] and "timeout" in report[-1]
    assert not list((workdir / "out").glob(f"{stuck.name}*"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("storage", ["tier3", "unknown"])
def test_tier_products_are_downloaded(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], catalogue: Catalogue,
    workdir: Path, backend: str, storage: str,
) -> None:  # fmt: skip
    """The old script ignored tier3 (and gave up on unknown): on PEPS both are restored like
    tape; GEODES refuses them (410 Gone, no restore in its API), and the report says so."""
    entry = _entry(catalogue, storage)
    sb = make_sandbox(
        SandboxConfig(time_scale=0.001, restore_latency=(100, 300), unknown_restores=True)
    )
    run = legacy("peps_download", *_day_args(entry), "--backend", backend, "--url", sb.url,
                 "-a", auth_file(workdir, backend), "--timeout", "1", "-w", "out")  # fmt: skip
    if backend == "geodes":
        assert run.code == 2, run.out + run.err
        line = next(x for x in run.out.splitlines() if x.startswith(entry.name) and "  " in x)
        assert "refused" in line and "HTTP 410 Gone: kept on Tier3" in line
        assert not list((workdir / "out").glob(f"{entry.name}*"))
        return
    assert run.code == 0, run.out + run.err
    assert (workdir / "out" / f"{entry.name}.zip").stat().st_size == entry.size


def test_console_script_and_subcommand(
    shell: Callable[..., Run], sandbox: Sandbox, workdir: Path
) -> None:
    """The installed ``peps_download`` and ``peps-plus legacy peps_download`` are the same
    command (``--windows`` accepted and ignored)."""
    args = f"-c S2ST -t T31TCJ -d 2017-01-01 -f 2017-01-10 -n --windows --url {sandbox.url} -a geodes.txt"
    script = shell(f"peps_download {args} --json a.json")
    sub = shell(f"peps-plus legacy peps_download {args} --json b.json")
    assert script.code == 0 and sub.code == 0, script.err + sub.err
    assert listed(script) == listed(sub) and listed(script)
    assert saved_ids(workdir / "a.json") == saved_ids(workdir / "b.json") == listed(script)
    assert script.err.count("Using GEODES") == 1

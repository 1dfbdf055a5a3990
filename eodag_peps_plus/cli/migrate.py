"""``peps-plus migrate``: a legacy PEPS command line (or every one in a shell script) as the
equivalent ``eodag`` commands, ``peps-plus`` commands and Python, each runnable as printed.

The old command line is parsed by the drop-in command itself (``cli/legacy.py``), so the
translation accepts exactly what the drop-in accepts, and the search it prints is built from
the same unified :class:`~eodag_peps_plus.query.Query`. Options with no equivalent are listed
by name, never dropped silently. Auth files are never opened: secrets cannot be printed.
"""

from __future__ import annotations

import dataclasses
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..backends import spec_for
from ..collection_names import MAJA_INPUT, MAJA_L1C_QUERY, ROWS, family
from ..exceptions import InvalidQueryError, PepsPlusError
from ..legacy.authfile import credentials_env
from ..query import Query
from .common import build_query
from .legacy import (
    COMMANDS,
    backend_option,
    check_place,
    legacy_end,
    place_params,
    tiled_start,
)

__all__ = [
    "Translation",
    "find_calls",
    "migrate",
    "register",
    "split_script",
    "tokenize",
    "translate",
]

#: Shell words that end a command (``shlex`` with ``punctuation_chars``).
_OPERATORS = {";", "&&", "||", "|", "&", ">", ">>", "<", "(", ")", "2>", "2>&1"}
#: EODAG collection names (product-type specific), found by the unified pair they stand for.


def register(group: click.Group) -> None:
    group.add_command(migrate)


@dataclasses.dataclass
class Translation:
    """One legacy call, translated."""

    source: str
    eodag: list[str]
    peps_plus: list[str]
    python: str
    notes: list[str]

    def format(self, only: str | None = None) -> str:
        if only == "eodag":
            return "\n".join(self.eodag)
        if only == "peps-plus":
            return "\n".join(self.peps_plus)
        if only == "python":
            return self.python
        parts = [f"# legacy: {self.source}", "# --- eodag", *(self.eodag or ["# (none)"])]
        parts += ["# --- peps-plus", *self.peps_plus, "# --- python"]
        parts += ["python3 - <<'EOF'", self.python.rstrip("\n"), "EOF"]
        if self.notes:
            parts += ["# --- not carried over as such", *(f"#   {note}" for note in self.notes)]
        return "\n".join(parts)


# -- parsing -------------------------------------------------------------------------------------
def find_calls(words: list[str]) -> list[tuple[str, list[str]]]:
    """Each legacy call in a tokenised command line: (command name, its arguments)."""
    calls = []
    index = 0
    while index < len(words):
        name = _legacy_name(words[index])
        if name is None:
            index += 1
            continue
        args = []
        index += 1
        while index < len(words) and words[index] not in _OPERATORS:
            args.append(words[index])
            index += 1
        calls.append((name, args))
    return calls


def _legacy_name(word: str) -> str | None:
    base = word.rsplit("/", 1)[-1]
    base = base[:-3] if base.endswith(".py") else base
    return base if base in COMMANDS else None


def split_script(text: str) -> list[tuple[int, str]]:
    """Logical lines of a shell script (backslash continuations joined), with line numbers."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append((start, pending + line))
        pending = ""
    if pending:
        lines.append((start, pending))
    return lines


def tokenize(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError as exc:
        raise InvalidQueryError(f"cannot split the command line: {exc}") from None


# -- translation ---------------------------------------------------------------------------------
def translate(name: str, args: list[str], *, backend: str, url: str | None) -> Translation:
    """Translate one legacy call.

    Args:
        name: the legacy command (``peps_download``...).
        args: its arguments, as the shell would pass them.
        backend: ``geodes`` or ``peps`` (a ``--backend`` in ``args`` wins).
        url: a server URL to write into the commands (default: the EODAG environment).

    Returns:
        The three forms and the notes.

    Raises:
        PepsPlusError: the arguments would be refused by the drop-in command too.
    """
    command = COMMANDS[name]
    try:
        given = any(a == "--backend" or a.startswith("--backend=") for a in args)
        words = [*args, *([] if given else ["--backend", backend])]
        ctx = command.make_context(name, words, obj={"legacy_translating": True})
    except click.ClickException as exc:
        raise InvalidQueryError(f"{name}: {exc.format_message()}") from None
    params = dict(ctx.params)
    stray = ctx.meta.get("legacy_stray")
    source = " ".join(shlex.quote(w) for w in [f"{name}.py", *args])
    target = _Target(params.pop("backend_name"), params.pop("url", None) or url)
    notes: list[str] = []
    if stray:
        notes.append(f"{' '.join(stray)}: not an option; ignored, by the old script too")
    auth = params.pop("auth", None)
    if auth is not None:
        notes.append(
            f"-a {auth}: eodag and peps-plus read credentials from the environment "
            f"({target.credentials_env}) or eodag.yml; the file itself is not read"
        )
    builder = _BUILDERS[name]
    try:
        eodag, peps_plus, python = builder(target, params, notes, ctx)
    except click.ClickException as exc:  # a legacy refusal (LegacyExit)
        raise InvalidQueryError(f"{name}: {exc.format_message()}") from None
    return Translation(source, eodag, peps_plus, python, notes)


@dataclasses.dataclass
class _Target:
    backend: str
    url: str | None

    @property
    def provider(self) -> str:
        return spec_for(self.backend).provider

    @property
    def credentials_env(self) -> str:
        return credentials_env(self.backend)

    @property
    def endpoint_env(self) -> str:
        return f"EODAG__{self.provider.upper()}__SEARCH__API_ENDPOINT"

    def peps_plus_server(self) -> list[str]:
        return ["-B", self.backend, *(["--url", self.url] if self.url else [])]

    def eodag_prefix(self) -> list[str]:
        return [f"{self.endpoint_env}={self.url}"] if self.url else []

    def python_open(self) -> str:
        where = (
            repr(self.url)
            if self.url
            else f'os.environ.get("{self.endpoint_env}") or "{self.backend}"'
        )
        return (
            "import os\n"
            "from eodag_peps_plus import Client\n"
            "from eodag_peps_plus.eodag_support import credentials_from_env\n\n"
            f'client = Client.open({where}, backend="{self.backend}", '
            f'credentials=credentials_from_env("{self.provider}"))\n'
        )


def _line(words: list[str]) -> str:
    return " ".join(w if "=" in w and w.split("=", 1)[0].isidentifier() and w.split("=", 1)[0].isupper() else shlex.quote(w) for w in words)  # fmt: skip


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _query(
    target: _Target, params: dict[str, Any], notes: list[str], *, fixed: dict[str, Any]
) -> tuple[Query, dict[str, Any]]:
    """The unified query of a legacy search, and the place options as the new commands take
    them (a town becomes a point where the server has no gazetteer)."""
    place = {k: params.get(k) for k in ("tile", "location", "lat", "lon", "latmin", "latmax", "lonmin", "lonmax")}  # fmt: skip
    check_place(place)
    place, town = place_params(place, target.backend)
    if town is not None:
        notes.append(
            f"-l {params['location']}: {target.backend.upper()} has no gazetteer; the town is "
            f"resolved offline to {town.describe()}"
        )
    fields = dict(place, **fixed)
    return build_query(fields), place


def _place_words(place: dict[str, Any]) -> list[str]:
    words: list[str] = []
    for key, flag in (("tile", "-t"), ("location", "-l"), ("lat", "--lat"), ("lon", "--lon"),
                      ("latmin", "--latmin"), ("latmax", "--latmax"), ("lonmin", "--lonmin"),
                      ("lonmax", "--lonmax")):  # fmt: skip
        if place.get(key) is not None:
            words += [flag, str(place[key])]
    return words


def _eodag_collection(query: Query, notes: list[str]) -> tuple[str, bool]:
    """EODAG's own collection name when one means this (collection, product type); else the
    PEPS collection (EODAG's generic collection). True when it fixes the type.

    ``eodag search --storage`` writes ``<collection>.json`` beside the results: a PEPS name
    (``S2ST``) gives a "Not Available" stub there, so Sentinel-2 without ``-p`` is searched as
    EODAG's L1C collection (all GEODES has, and nearly all PEPS had), and the note says so."""
    unified = family(str(query.collection))
    product_type = query.product_type
    if unified == MAJA_INPUT.unified and product_type is None:
        product_type = MAJA_INPUT.product_type
        notes.append(
            f"-c {query.collection} without -p: eodag searches Sentinel-2 L1C (S2MSI1C); "
            "PEPS's few S2MSI2A products of that collection need -p S2MSI2A"
        )
    for row in ROWS:
        if row.eodag and (row.unified, row.product_type) == (unified, product_type):
            return row.eodag, True
    return str(query.collection), False


def _eodag_search(target: _Target, query: Query, storage: str, notes: list[str]) -> list[str]:
    collection, typed = _eodag_collection(query, notes)
    words = [*target.eodag_prefix(), "eodag", "search", "-p", target.provider, "-c", collection]
    if query.bbox:
        words += ["-b", *(repr(v) for v in query.bbox)]
    if query.point:
        words += ["-g", f"POINT ({query.point[0]!r} {query.point[1]!r})"]
    if query.start:
        words += ["-s", _iso(query.start)]
    if query.end:
        words += ["-e", _iso(query.end)]
    if query.platform:
        words += ["--platform", query.platform]
    if query.max_cloud_cover is not None:
        words += ["--cloud-cover", f"{query.max_cloud_cover:g}"]
    extra = []
    if query.product_type and not typed:
        extra.append(f"productType={query.product_type}")
    for key, value in (("sensorMode", query.sensor_mode), ("tileid", query.tile),
                       ("relativeOrbitNumber", query.relative_orbit), ("q", query.location)):  # fmt: skip
        if value is not None:
            extra.append(f"{key}={value}")
    if extra:
        words += ["-q", "&".join(extra)]
    words += ["--all", "--storage", storage]
    return [_line(words)]


def _python_search(query: Query) -> str:
    """``client.search(...)`` for a unified query: pystac-client names plus unified fields."""
    args = [f"collections={query.collection!r}"]
    start = query.start.strftime("%Y-%m-%dT%H:%M:%SZ") if query.start else ".."
    end = query.end.strftime("%Y-%m-%dT%H:%M:%SZ") if query.end else ".."
    if query.start or query.end:
        args.append(f'datetime="{start}/{end}"')
    if query.bbox:
        args.append(f"bbox={list(query.bbox)!r}")
    for name in ("product_type", "sensor_mode", "tile", "location", "point", "relative_orbit",
                 "max_cloud_cover", "platform"):  # fmt: skip
        value = getattr(query, name)
        if value is not None:
            args.append(f"{name}={value!r}")
    return "search = client.search(" + ", ".join(args) + ")\n"


def _download_fields(params: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    start, advice = tiled_start(params["collection"], params["start"], legacy_end(params["end"]))
    if advice:
        notes.append(
            f"-c S2ST from {params['start'] or 'the beginning'}: searched from {start}, as the "
            "old script did (products before that date: -c S2)"
        )
    fields = {
        "collection": params["collection"], "product_type": params["product_type"] or None,
        "sensor_mode": params["sensor_mode"] or None, "start": start,
        "end": legacy_end(params["end"]), "orbit": params["orbit"], "platform": params["platform"],
    }  # fmt: skip
    if params["clouds"] < 100 and params["collection"].startswith("S2"):
        fields["clouds"] = params["clouds"]
    return fields


def _peps_download_notes(
    params: dict[str, Any], notes: list[str], ctx: click.Context, storage: str, minutes: float
) -> None:
    """What ``_peps_download``'s translation changes for its user, added to ``notes``."""
    json_name = str(params["json_path"])
    if ctx.get_parameter_source("json_path") is click.core.ParameterSource.DEFAULT:
        notes.append(
            "search.json: the new commands do not write PEPS's JSON; eodag saves STAC results "
            f"to {storage}, peps-plus search --json FILE writes them"
        )
    elif not json_name.endswith(".geojson"):
        notes.append(f"--json {json_name}: eodag stores its (STAC) results in {storage}")
    if params["windows"]:
        notes.append("--windows: not needed (no shell quoting involved)")
    if params["no_download"] is False:
        notes.append(
            f"--trials/--wait: tape restores are waited for {minutes:g} min (--timeout), then "
            "reported; eodag download uses the plugin's timeout"
        )


def _peps_download(
    target: _Target, params: dict[str, Any], notes: list[str], ctx: click.Context
) -> tuple[list[str], list[str], str]:
    query, place = _query(target, params, notes, fixed=_download_fields(params, notes))
    write_dir = str(params["write_dir"])
    minutes = params["timeout"] if params["timeout"] is not None else params["trials"] * params["wait_minutes"]  # fmt: skip
    json_name = str(params["json_path"])
    storage = json_name if json_name.endswith(".geojson") else "search_results.geojson"
    eodag = _eodag_search(target, query, storage, notes)
    if not params["no_download"]:
        extract = "true" if params["extract"] else "false"
        p = target.provider.upper()
        eodag.append(
            _line(
                [
                    *target.eodag_prefix(),
                    f"EODAG__{p}__DOWNLOAD__EXTRACT={extract}",
                    f"EODAG__{p}__DOWNLOAD__DELETE_ARCHIVE={extract}",
                    "eodag",
                    "download",
                    "--search-results",
                    storage,
                    "--output-dir",
                    write_dir,
                ]
            )  # fmt: skip
        )
    common = [*target.peps_plus_server(), *_legacy_query_words(params, query), *_place_words(place)]
    peps_plus = []
    if ctx.get_parameter_source("json_path") is not click.core.ParameterSource.DEFAULT:
        peps_plus.append(_line(["peps-plus", "search", *common, "--json", json_name]))
    words = ["peps-plus", "download", *common, "-w", write_dir, "--timeout", f"{minutes:g}"]
    if params["extract"]:
        words += ["-x", "--delete-archive"]
    if params["no_download"]:
        words.append("-n")
    peps_plus.append(_line(words))
    python = target.python_open() + _python_search(query) + "products = list(search.products())\n"
    python += "for product in products:\n    print(product.id, product.availability.value)\n"
    if not params["no_download"]:
        python += (
            "from eodag_peps_plus.staging import Downloader\n"
            f"report = Downloader(client.backend, {write_dir!r}, timeout={minutes * 60:g}, "
            f"extract={params['extract']}, delete_archive={params['extract']}).download(products)\n"
            "print(report.format())\n"
        )
    _peps_download_notes(params, notes, ctx, storage, minutes)
    return eodag, peps_plus, python


def _legacy_query_words(params: dict[str, Any], query: Query) -> list[str]:
    """The search options ``peps-plus search/download`` share with the old script."""
    words = ["-c", params["collection"]]
    for key, flag in (("product_type", "-p"), ("sensor_mode", "-m"), ("start", "-d"),
                      ("orbit", "-o"), ("platform", "--sat")):  # fmt: skip
        if params.get(key) not in (None, ""):
            words += [flag, str(params[key])]
    if query.end is not None:
        words += ["-f", query.end.strftime("%Y-%m-%dT%H:%M:%SZ")]
    if query.max_cloud_cover is not None:
        words += ["--cc", f"{query.max_cloud_cover:g}"]
    return words


def _maja_search_query(
    target: _Target, params: dict[str, Any], notes: list[str]
) -> tuple[Query, dict[str, Any]]:
    fixed = {**MAJA_L1C_QUERY, "start": params["start"], "end": legacy_end(params["end"]),
             "orbit": params["orbit"]}  # fmt: skip
    return _query(target, params, notes, fixed=fixed)


def _peps_maja_process(
    target: _Target, params: dict[str, Any], notes: list[str], ctx: click.Context
) -> tuple[list[str], list[str], str]:
    query, place = _maja_search_query(target, params, notes)
    eodag = _eodag_search(target, query, "search_results.geojson", notes)
    notes.append("eodag has no processing: its command only lists the L1C products MAJA would get")
    words = ["peps-plus", "maja", "submit", "--per-product", *target.peps_plus_server(), *_place_words(place)]  # fmt: skip
    if params["start"]:
        words += ["-d", params["start"]]
    if query.end is not None:
        words += ["-f", query.end.strftime("%Y-%m-%dT%H:%M:%SZ")]
    if params["orbit"] is not None:
        words += ["-o", str(params["orbit"])]
    if params["yes"]:
        words.append("--yes")
    if params.get("resubmit"):
        words.append("--resubmit")
    if params["no_download"]:
        words.append("--dry-run")
    else:
        words += ["--write-list", str(params["prod_list"])]
    python = target.python_open() + _python_search(query) + "products = list(search.products())\n"
    if params["no_download"]:
        python += "for product in products:\n    print(product.id)\n"
    else:
        python += (
            "from pathlib import Path\n"
            "from eodag_peps_plus.processing.jobs import MajaJobs\n"
            f"records = MajaJobs(client.backend).submit_products(products, yes={params['yes']}, "
            f"resubmit={bool(params.get('resubmit'))})\n"
            f"Path({str(params['prod_list'])!r}).write_text(''.join(r.label + '\\n' for r in records))\n"
            "for record in records:\n"
            "    print(record.id, record.label, record.state.value)\n"
        )
    notes.append(
        f"-p {params['prod_list']}: still written (--write-list); peps-plus maja fetch "
        f"--products-file {params['prod_list']} fetches these products' jobs only"
    )
    if params["write_dir"] != Path("."):
        notes.append(f"-w {params['write_dir']}: no per-product log files; the store has the jobs")
    if params["windows"]:
        notes.append("--windows: not needed")
    return eodag, [_line(words)], python


def _fetch(
    target: _Target,
    write_dir: Path,
    *,
    job: str | None = None,
    log: Path | None = None,
    products: Path | None = None,
) -> tuple[list[str], list[str], str]:
    """``maja fetch`` bound to the legacy call's own jobs: its job, its log's job, or its
    product list's jobs; never every finished job of the store (another tile's L2A in this
    folder)."""
    words = ["peps-plus", "maja", "fetch", "-w", str(write_dir)]
    python = target.python_open() + "from eodag_peps_plus.processing.jobs import MajaJobs\n"
    if job is not None:
        words.append(job)
        python += f"\njobs = MajaJobs(client.backend)\nrecords = [jobs.get({job})]\n"
    elif log is not None:
        words += ["--log", str(log)]
        python += (
            "from pathlib import Path\n"
            "from eodag_peps_plus.legacy.joblog import job_store, read_job_log\n\n"
            f"log = read_job_log(Path({str(log)!r}))\n"
            "jobs = MajaJobs(client.backend, job_store(None, log))\n"
            'records = [jobs.get(log["job"])]\n'
        )
    else:
        assert products is not None
        words += ["--products-file", str(products)]
        python += (
            "from pathlib import Path\n"
            "from eodag_peps_plus.processing.store import product_jobs\n\n"
            "jobs = MajaJobs(client.backend)\n"
            f"names = Path({str(products)!r}).read_text().split()\n"
            "records = list(product_jobs(jobs.list(), names).values())\n"
        )
    python += (
        "for record in records:\n"
        f"    report = jobs.fetch(record.id, {str(write_dir)!r})\n"
        "    print(record.id, report.job.state.value, [str(p) for p in report.downloaded], "
        "len(report.novald), report.unprocessed)\n"
    )
    return [], [_line(words)], python  # fmt: skip


def _peps_maja_download(
    target: _Target, params: dict[str, Any], notes: list[str], ctx: click.Context
) -> tuple[list[str], list[str], str]:
    notes.append("eodag has no processing; peps-plus maja fetch downloads finished MAJA jobs")
    notes.append(
        f"-p {params['prod_list']}: the jobs of the products it lists (the store's job for "
        "each: its finished one first), and no other"
    )
    return _fetch(target, params["write_dir"], products=params["prod_list"])


def _full_maja_process(
    target: _Target, params: dict[str, Any], notes: list[str], ctx: click.Context
) -> tuple[list[str], list[str], str]:
    from ..processing import checks

    request = checks.check_series(params["tile"], params["start"], params["end"], params["orbit"])
    notes.append("eodag has no processing: use peps-plus maja submit or MajaJobs")
    log = str(params["log_path"])
    words = ["peps-plus", "maja", "submit", *target.peps_plus_server(), "-t", request.tile,
             "-d", str(request.start), "-e", str(request.end)]  # fmt: skip
    if request.relative_orbit is not None:
        words += ["-o", str(request.relative_orbit)]
    if params.get("resubmit"):
        words.append("--resubmit")
    if params["no_download"]:
        words.append("--dry-run")
        python = (
            "from eodag_peps_plus.processing import checks\n\n"
            f"print(checks.check_series({request.tile!r}, {str(request.start)!r}, "
            f"{str(request.end)!r}, {request.relative_orbit!r}))\n"
        )
    else:
        words += ["--log", log]
        python = target.python_open() + (
            "from pathlib import Path\n"
            "from eodag_peps_plus.legacy.joblog import write_job_log\n"
            "from eodag_peps_plus.processing.jobs import MajaJobs\n\n"
            "jobs = MajaJobs(client.backend)\n"
            f"record = jobs.submit_series({request.tile!r}, {str(request.start)!r}, "
            f"{str(request.end)!r}, {request.relative_orbit!r}, "
            f"resubmit={bool(params.get('resubmit'))})\n"
            f"write_job_log(Path({log!r}), record, jobs.store)\n"
            "print(record.id, record.label, record.state.value)\n"
        )
    notes.append(
        f"-l {log}: still written, naming the job (the store keeps it too); "
        f"peps-plus maja fetch --log {log} fetches that job only"
    )
    for key, flag in (("write_dir", "-w"), ("json_path", "--json")):
        if params.get(key):
            notes.append(f"{flag} {params[key]}: ignored by the old script too")
    return [], [_line(words)], python


def _full_maja_download(
    target: _Target, params: dict[str, Any], notes: list[str], ctx: click.Context
) -> tuple[list[str], list[str], str]:
    notes.append("eodag has no processing; peps-plus maja fetch downloads the results")
    if params["job_id"] is not None:
        return _fetch(target, params["write_dir"], job=str(params["job_id"]))
    notes.append(f"-l {params['log_path']}: the job this log names, and no other")
    return _fetch(target, params["write_dir"], log=params["log_path"])


_BUILDERS = {
    "peps_download": _peps_download,
    "peps_maja_process": _peps_maja_process,
    "peps_maja_download": _peps_maja_download,
    "full_maja_process": _full_maja_process,
    "full_maja_download": _full_maja_download,
}


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--file",
    "script",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Translate every legacy call in this shell script.",
)
@backend_option
@click.option("--url", help="Server URL to write into the commands (default: EODAG's environment).")  # fmt: skip
@click.option(
    "--only",
    type=click.Choice(["eodag", "peps-plus", "python"]),
    help="Print only this form (nothing else), e.g. to pipe it into a shell.",
)
def migrate(
    words: tuple[str, ...],
    script: Path | None,
    backend_name: str,
    url: str | None,
    only: str | None,
) -> None:
    """Translate a legacy PEPS command line: peps-plus migrate -- peps_download.py -c S2ST ...

    Prints the equivalent eodag commands, peps-plus commands and Python (pystac-style Client),
    and names the options that have no equivalent."""
    if bool(words) == bool(script):
        raise InvalidQueryError("give a legacy command line after --, or --file SCRIPT")
    if script is not None:
        try:
            text = script.read_text(errors="replace")
        except OSError as exc:
            raise InvalidQueryError(f"cannot read {script}: {exc.strerror}") from None
        lines = split_script(text)
    else:
        lines = [(0, shlex.join(words))]
    outputs, failures, found = [], 0, 0
    for number, line in lines:
        where = f"{script}:{number}: " if script is not None else ""
        try:
            calls = find_calls(tokenize(line))
        except PepsPlusError as exc:
            calls = []
            if script is None:
                raise
            click.echo(f"# {where}{exc}", err=True)
        for name, args in calls:
            found += 1
            try:
                outputs.append(translate(name, args, backend=backend_name, url=url).format(only))
            except PepsPlusError as exc:
                failures += 1
                if script is None:
                    raise
                click.echo(f"# {where}cannot translate {name}: {exc}", err=True)
    if not found:
        raise InvalidQueryError(
            "no legacy command found (" + ", ".join(f"{n}.py" for n in COMMANDS) + ")"
        )
    click.echo("\n\n".join(outputs))
    if failures:
        raise InvalidQueryError(f"{failures} legacy call(s) could not be translated (see above)")

"""The MAJA job simulator both processing front ends drive (``wps.py``, ``ogc.py``).

Like the real cluster, at most ``max_running`` (10) jobs run at once for all users: the others
wait ``PENDING``. A job takes about an hour for its first date and 25 minutes per further date
(nominal seconds times ``SandboxConfig.time_scale``), then finishes with real small zips (some
dates ``NOVALD``: too cloudy; L1C that never came off tape counted as ``unprocessed``), fails,
or - beyond 60 degrees of latitude, where MAJA has no elevation model - is cancelled.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..app import Request, Response
from ..catalogue import TILES, Entry, stable_unit

if TYPE_CHECKING:
    from ..server import Sandbox

__all__ = [
    "FIRST_DATE_SECONDS",
    "InputError",
    "JobSimulator",
    "MAX_LATITUDE",
    "MAX_RUNNING",
    "NEXT_DATE_SECONDS",
    "NOVALD_CLOUDS",
    "SimJob",
    "iso_stamp",
    "optimistic_progress",
    "serve_result",
]

MAX_RUNNING = 10
FIRST_DATE_SECONDS = 3600.0
NEXT_DATE_SECONDS = 1500.0
NOVALD_CLOUDS = 90.0
MAX_LATITUDE = 60.0
_TILE = re.compile(r"^T?(\d{2}[C-HJ-NP-X][A-HJ-NP-Z]{2})$")


class InputError(ValueError):
    pass


@dataclasses.dataclass
class SimJob:
    id: str
    protocol: str  # wps | ogc
    process: str  # MAJA | FULL_MAJA
    owner: str
    inputs: dict[str, Any]
    entries: list[Entry]
    latitude: float
    label: str
    created: datetime
    state: str = "pending"  # pending running finished failed canceled
    started_at: float | None = None
    duration: float = 0.0
    ended: datetime | None = None
    message: str | None = None
    results: dict[str, Entry] = dataclasses.field(default_factory=dict)
    unprocessed: int = 0
    #: WPS: the JSON report as of the last ``PROCESSING_STATUS``.
    report: dict[str, Any] | None = None


class JobSimulator:
    """Every job of every user, whichever protocol created it, on one shared cluster."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.max_running = MAX_RUNNING
        self.jobs: dict[str, SimJob] = {}
        self.order: list[str] = []
        self.lock = threading.RLock()
        self._clock = time.monotonic
        #: Real seconds an accepted submission's reply is held back after the job exists: the
        #: window in which a killed client leaves a job it never heard of (tests aim at it).
        self.accept_delay = 0.0

    # -- the state machine -------------------------------------------------------------------
    @property
    def time_scale(self) -> float:
        return self.sandbox.config.time_scale

    def running(self) -> int:
        with self.lock:
            self.advance()
            return sum(1 for j in self.jobs.values() if j.state == "running")

    def advance(self) -> None:
        now = self._clock()
        for job in self.jobs.values():
            if (
                job.state == "running"
                and job.started_at is not None
                and now >= job.started_at + job.duration
            ):
                self._finish(job)
        for job_id in self.order:
            job = self.jobs[job_id]
            if job.state != "pending":
                continue
            if abs(job.latitude) > MAX_LATITUDE:
                self.end(
                    job,
                    "canceled",
                    (
                        f"Job canceled: {job.label} is at {job.latitude:.1f} degrees of "
                        "latitude, beyond "
                        f"+-{MAX_LATITUDE:g}: no elevation model is available for MAJA there"
                    ),
                )
                continue
            if not job.entries:
                self.end(job, "failed", f"No Sentinel-2 L1C product found for {job.label}")
                continue
            if sum(1 for j in self.jobs.values() if j.state == "running") >= self.max_running:
                break  # first come, first served: later jobs wait behind this one
            job.state = "running"
            job.started_at = now
            nominal = FIRST_DATE_SECONDS + NEXT_DATE_SECONDS * (len(job.entries) - 1)
            job.duration = nominal * self.time_scale

    def end(self, job: SimJob, state: str, message: str | None) -> None:
        job.state = state
        job.message = message
        job.ended = datetime.now(timezone.utc)

    def _finish(self, job: SimJob) -> None:
        for entry in job.entries:
            if self.sandbox.tape.mode(entry.uuid) == "unknown":
                job.unprocessed += 1  # could not be retrieved from tape
                continue
            novald = entry.cloud_cover is not None and entry.cloud_cover > NOVALD_CLOUDS
            stamp = f"{entry.start:%Y%m%d-%H%M%S}-{entry.start.microsecond // 1000:03d}"
            name = f"SENTINEL2{entry.platform[-1]}_{stamp}_L2A_T{entry.tile}_C_V2-2"
            if novald:
                name += "_NOVALD"
            size = 1500 + int(stable_unit("l2a-size", name) * 6000)
            result = dataclasses.replace(
                entry,
                uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job.id}/{name}")),
                name=name,
                collection="MAJA_L2A",
                product_type="REFLECTANCE",
                processing_level="L2A",
                size=size,
                storage="disk",
                seed=int(stable_unit("l2a-seed", name) * 2**31),
            )
            self.sandbox.tape.set_mode(result.uuid, "disk")
            job.results[f"{name}.zip"] = result
        self.end(job, "finished", None)

    def progress(self, job: SimJob) -> float:
        if job.state == "finished":
            return 100.0
        if job.state != "running" or job.started_at is None or job.duration <= 0:
            return 0.0
        return min(99.0, 100.0 * (self._clock() - job.started_at) / job.duration)

    def create(
        self,
        protocol: str,
        process: str,
        owner: str,
        inputs: dict[str, Any],
        entries: list[Entry],
        latitude: float,
        label: str,
    ) -> SimJob:
        job = SimJob(
            id=uuid.uuid4().hex,
            protocol=protocol,
            process=process,
            owner=owner,
            inputs=inputs,
            entries=sorted(entries, key=lambda e: e.start),
            latitude=latitude,
            label=label,
            created=datetime.now(timezone.utc),
        )
        with self.lock:
            self.jobs[job.id] = job
            self.order.append(job.id)
            self.advance()
        self.sandbox.count(f"processing.{protocol}.jobs")
        return job

    def find(self, job_id: str, owner: str, protocol: str) -> SimJob | None:
        with self.lock:
            self.advance()
            job = self.jobs.get(job_id)
        if job is None or job.owner != owner or job.protocol != protocol:
            return None
        return job

    # -- inputs (shared by both protocols) ---------------------------------------------------
    def product_inputs(self, name: str) -> tuple[list[Entry], float, str]:
        name = name.strip().removesuffix(".zip")
        entry = self.sandbox.catalogue.by_name.get(name)
        if entry is None or entry.product_type != "S2MSI1C":
            raise InputError(f"product {name!r} is not a Sentinel-2 L1C product of the catalogue")
        lonmin, latmin, lonmax, latmax = entry.bounds
        return [entry], (latmin + latmax) / 2, name

    def series_inputs(
        self, tile: str, start: str, end: str, orbit: str | None
    ) -> tuple[list[Entry], float, str]:
        match = _TILE.match(tile.strip().upper())
        if not match:
            raise InputError(f"Invalid tileid : {tile}")
        tile = match.group(1)
        try:
            first = date.fromisoformat(start.strip())
            last = date.fromisoformat(end.strip())
        except ValueError:
            raise InputError(f"Invalid date : {start} / {end} (expected YYYY-MM-DD)") from None
        if last < first:
            raise InputError("completionDate is before startDate")
        rel: int | None = None
        if orbit not in (None, ""):
            try:
                rel = int(str(orbit))
            except ValueError:
                raise InputError(f"Invalid relativeOrbitNumber : {orbit}") from None
        low = datetime.combine(first, datetime.min.time(), tzinfo=timezone.utc)
        high = datetime.combine(last, datetime.min.time(), tzinfo=timezone.utc) + timedelta(days=1)
        entries = [
            e
            for e in self.sandbox.catalogue
            if e.product_type == "S2MSI1C"
            and e.tile == tile
            and low <= e.start < high
            and (rel is None or e.relative_orbit == rel)
        ]
        latitude = TILES[tile][1] if tile in TILES else _tile_latitude_guess(tile)
        label = f"tile {tile} from {first} to {last}" + (f" orbit {rel}" if rel else "")
        return entries, latitude, label


# -- helpers -------------------------------------------------------------------------------------
def optimistic_progress(progress: float) -> float:
    """PEPS's percentage ran ahead of the real work."""
    if progress <= 0 or progress >= 100:
        return progress
    return min(99.0, 100.0 * (progress / 100.0) ** 0.6)


def _tile_latitude_guess(tile: str) -> float:
    """Centre of the MGRS latitude band (tiles missing from the sandbox table)."""
    bands = "CDEFGHJKLMNPQRSTUVWX"
    return -80 + 8 * bands.index(tile[2]) + 4


def iso_stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def serve_result(sim: JobSimulator, job: SimJob | None, request: Request) -> Response:
    """A finished job's L2A zip, streamed like any archive (``Range``, faults)."""
    entry = job.results.get(request.params["name"]) if job is not None else None
    if entry is None:
        return Response.json({"ErrorCode": 404, "ErrorMessage": "Not Found"}, 404)
    sim.sandbox.count("processing.result_downloads")
    return sim.sandbox.serve_archive(entry, request)

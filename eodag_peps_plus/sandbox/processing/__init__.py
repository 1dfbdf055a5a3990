"""MAJA processing emulation: PEPS WPS 1.0.0 at ``/resto/wps`` (``wps.py``) and GEODES OGC API -
Processes under ``/api/processing`` (``ogc.py``), both driving one job state machine
(``simulator.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .ogc import OGC_EXC, OGC_PROCESS, OGC_ROOT, PROCESSES, OgcFrontEnd
from .simulator import (
    FIRST_DATE_SECONDS,
    MAX_LATITUDE,
    MAX_RUNNING,
    NEXT_DATE_SECONDS,
    NOVALD_CLOUDS,
    InputError,
    JobSimulator,
    SimJob,
)
from .wps import WPS_NS, WpsFrontEnd

if TYPE_CHECKING:
    from ..server import Sandbox


class ProcessingService(JobSimulator):
    """The sandbox service: the simulator with both front ends routed on the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.wps = WpsFrontEnd(self)
        self.ogc = OgcFrontEnd(self)
        self.wps.register(sandbox.router)
        self.ogc.register(sandbox.router)


__all__ = [
    "FIRST_DATE_SECONDS",
    "MAX_LATITUDE",
    "MAX_RUNNING",
    "NEXT_DATE_SECONDS",
    "NOVALD_CLOUDS",
    "OGC_EXC",
    "OGC_PROCESS",
    "OGC_ROOT",
    "PROCESSES",
    "WPS_NS",
    "InputError",
    "JobSimulator",
    "OgcFrontEnd",
    "ProcessingService",
    "SimJob",
    "WpsFrontEnd",
]

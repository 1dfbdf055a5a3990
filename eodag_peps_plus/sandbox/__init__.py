"""A faithful local emulator of PEPS and GEODES, served over real HTTP on loopback."""

from .catalogue import Catalogue, Entry
from .faults import Fault, FaultPlan
from .server import DEFAULT_API_KEY, DEFAULT_PASSWORD, DEFAULT_USER, Sandbox, SandboxConfig

__all__ = [
    "Catalogue", "Entry", "Fault", "FaultPlan", "Sandbox", "SandboxConfig",
    "DEFAULT_USER", "DEFAULT_PASSWORD", "DEFAULT_API_KEY",
]  # fmt: skip

"""Our loggers live under EODAG's (``eodag.peps_plus.*``).

Users reach us through EODAG as often as through ``peps-plus``: under ``eodag -vv download``
(or ``eodag.setup_logging(2)``) our restore, poll and transfer lines then show next to EODAG's
own, and one ``logging.getLogger("eodag")`` setting covers both.
"""

from __future__ import annotations

import logging

__all__ = ["ROOT", "get_logger"]

#: The logger every module of the package logs under.
ROOT = "eodag.peps_plus"


def get_logger(module: str) -> logging.Logger:
    """The logger of ``module`` (its ``__name__``), placed under :data:`ROOT`."""
    return logging.getLogger(ROOT + module.removeprefix("eodag_peps_plus"))

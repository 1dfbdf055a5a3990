"""Every setting of a staging download, once: its default, its bounds, its one-line meaning.

:class:`StagingOptions` is the one record the three entry points build from: Python
(``StagingOptions(max_transfers=16)``), the EODAG plugin config (:meth:`StagingOptions.from_mapping`,
normalised once like EODAG's ``normalize_config``) and the CLI (:func:`click_options`,
generated from the fields). A new setting is one field here and reaches all three.

:class:`PollSchedule` is the one backoff: the availability polls of a batch, the wait of a
stream, the retries of a product and the waits for MAJA jobs all draw their pauses from one.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError

#: Defaults of the stall guard (seconds, bytes per second, seconds), also those of a
#: :class:`~.transfer.TransferJob` built by hand.
STALL_TIMEOUT = 60.0
MIN_RATE = 1024.0
RATE_WINDOW = 60.0


@dataclasses.dataclass(frozen=True)
class PollSchedule:
    """Pauses that grow by ``factor`` from ``initial`` up to ``maximum`` seconds."""

    initial: float
    factor: float
    maximum: float

    def delay(self, count: int) -> float:
        """The pause after ``count`` tries in a row (the first is ``initial``)."""
        return float(min(self.initial * self.factor ** max(count - 1, 0), self.maximum))

    def intervals(self) -> Iterator[float]:
        """``initial``, then each pause ``factor`` times the last, capped at ``maximum``."""
        interval = self.initial
        while True:
            yield interval
            interval = min(interval * self.factor, self.maximum)


def _setting(
    default: Any,
    doc: str,
    *,
    minimum: float | None = None,
    above: float | None = None,
    flags: tuple[str, ...] = (),
    hidden: bool = False,
    cli: bool = True,
    eodag: bool = True,
    eodag_default: Any = dataclasses.MISSING,
) -> Any:
    """A field with its documentation, bounds (``minimum`` inclusive, ``above`` exclusive) and
    how the CLI spells it (``--field-name`` unless ``flags``; ``cli=False``: not an option);
    ``eodag=False``: not an EODAG plugin key, ``eodag_default``: the plugin's default."""
    meta = {
        "doc": doc,
        "minimum": minimum,
        "above": above,
        "flags": flags,
        "hidden": hidden,
        "cli": cli,
        "eodag": eodag,
        "eodag_default": eodag_default,
    }
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class StagingOptions:
    """How a batch is staged and downloaded. Durations are seconds.

    Raises:
        ConfigurationError: a value is out of its bounds (one line naming the setting).
    """

    max_transfers: int = _setting(8, "Concurrent transfers.", minimum=1)
    max_restores: int = _setting(4, "Concurrent restore requests.", minimum=1)
    transfer_processes: int | None = _setting(
        None,
        "Run the transfers in N child processes (0: in this one; default: 2-4 for 5,000 "
        "products or more on several cores, else 0).",
        minimum=0,
    )
    timeout: float | None = _setting(
        None,
        "Seconds to wait for tape restores (none: no limit); what is still offline is reported.",
        minimum=0,
        cli=False,  # the CLI and EODAG count it in minutes: their own option
        eodag=False,
    )
    extract: bool = _setting(
        False,
        "Extract each archive to <name>.SAFE, keeping <name>.zip (as EODAG's extract; "
        "peps_download -x deleted it: add --delete-archive).",
        flags=("-x", "--extract"),
        eodag_default=True,
    )
    delete_archive: bool = _setting(False, "With extract: delete <name>.zip afterwards.")
    quiet: bool = _setting(
        False,
        "No progress bars (-q is eodag's --query, as in search).",
        flags=("--quiet", "--no-progress"),
    )
    state_dir: str | None = _setting(
        None,
        "Keep the ledger here instead of the output folder (for a URL: a folder per URL in "
        "your state folder).",
    )
    part_dir: str | None = _setting(
        None,
        "Where unfinished downloads go for a URL output (default: <state-dir>/parts); shared "
        "by dask workers on several machines, they resume each other's transfers.",
    )
    storage_options: dict[str, Any] | None = _setting(
        None,
        "fsspec options for a URL output (key, secret, client_kwargs); else AWS_* apply.",
        cli=False,  # secrets do not belong on a command line
    )
    poll_initial: float = _setting(
        5.0, "Seconds before the first availability poll.", above=0, hidden=True
    )
    poll_factor: float = _setting(
        1.5, "Each poll interval is the last one times this.", minimum=1, hidden=True
    )
    poll_max: float = _setting(60.0, "Longest interval between polls.", above=0, hidden=True)
    restore_retry_after: float = _setting(
        1800.0,
        "Age of an acknowledged restore request before it is asked again.",
        minimum=0,
        hidden=True,
    )
    max_attempts: int = _setting(5, "Failed tries of one product before it fails.", minimum=1)
    backoff_base: float = _setting(
        1.0, "First pause after a failed try (doubled each time).", minimum=0, hidden=True
    )
    backoff_max: float = _setting(
        300.0, "Longest pause between tries of one product.", minimum=0, hidden=True
    )
    lease: float = _setting(60.0, "Transfer claim lease in the ledger.", above=0, hidden=True)
    stall_timeout: float = _setting(
        STALL_TIMEOUT,
        "Seconds without a byte after which a transfer is cut and resumed with Range.",
        above=0,
    )
    min_rate: float = _setting(
        MIN_RATE,
        "Bytes/s a transfer must keep over rate_window seconds, else it is cut and resumed "
        "(0: no minimum).",
        minimum=0,
    )
    rate_window: float = _setting(RATE_WINDOW, "Seconds over which min_rate is measured.", above=0)
    report_every: float = _setting(
        60.0, "Seconds between the lines saying which products are still awaited, and why.", above=0
    )
    members: str | None = _setting(
        None,
        "A regular expression over the paths inside each archive: only the matching members "
        "are fetched (range requests) and written under <output>/<name>.SAFE/..., each "
        "checked by its CRC-32 (EODAG's asset filter).",
        cli=False,  # the CLI spells it --include / --bands / --polarisation / --metadata
    )

    def __post_init__(self) -> None:
        if self.members is not None:
            try:
                re.compile(self.members)
            except re.error as exc:
                raise ConfigurationError(
                    f"members must be a regular expression: {self.members!r} is not ({exc})"
                ) from None
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or isinstance(value, (bool, str, dict, Path)):
                continue
            low, above = field.metadata["minimum"], field.metadata["above"]
            if (low is not None and value < low) or (above is not None and value <= above):
                bound = f"at least {low:g}" if low is not None else f"more than {above:g}"
                raise ConfigurationError(f"{field.name} must be {bound}, not {value!r}")

    @property
    def poll(self) -> PollSchedule:
        """The cadence of availability polls (never shorter at its cap than at its start)."""
        return PollSchedule(
            self.poll_initial, self.poll_factor, max(self.poll_max, self.poll_initial)
        )

    @property
    def retry(self) -> PollSchedule:
        """The pauses between the failed tries of one product."""
        return PollSchedule(self.backoff_base, 2.0, self.backoff_max)

    def replace(self, **changes: Any) -> StagingOptions:
        """A copy with ``changes`` (validated; unknown names refused)."""
        unknown = sorted(set(changes) - NAMES)
        if unknown:
            raise ConfigurationError(f"unknown staging option(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], *, base: StagingOptions | None = None, eodag: bool = False
    ) -> StagingOptions:
        """Options from plain values (a plugin config, keyword arguments, a YAML block):
        each known key converted to its field's type, ``None`` meaning "the default", other
        keys ignored. ``eodag``: the plugin's keys only, with EODAG's defaults where they
        differ (``extract``).

        Raises:
            ConfigurationError: a value cannot be read as its setting's type, or is out of
                bounds.
        """
        start = base or cls()
        changes: dict[str, Any] = {}
        for name, kind in _TYPES.items():
            if eodag and not _FIELDS[name].metadata["eodag"]:
                continue
            value = values.get(name)
            if value is None:
                default = _FIELDS[name].metadata["eodag_default"]
                if eodag and base is None and default is not dataclasses.MISSING:
                    changes[name] = default
                continue
            changes[name] = _convert(name, kind, value)
        return dataclasses.replace(start, **changes) if changes else start


_FIELDS = {field.name: field for field in dataclasses.fields(StagingOptions)}
NAMES = frozenset(_FIELDS)
_TYPES: dict[str, Any] = typing.get_type_hints(StagingOptions)


def _base_type(kind: Any) -> Any:
    """``int`` for ``int | None``, ``dict`` for ``dict[str, Any] | None``."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    kind = args[0] if args else kind
    return typing.get_origin(kind) or kind


def _convert(name: str, kind: Any, value: Any) -> Any:
    base = _base_type(kind)
    try:
        if base is bool:
            if isinstance(value, str) and value.strip().lower() in ("false", "no", "0", "off"):
                return False
            if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "on"):
                return True
            if isinstance(value, (bool, int)) and not isinstance(value, float):
                return bool(value)
            raise ValueError(value)
        if base is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if base is str:
            return str(value)
        if base is dict:
            if not isinstance(value, Mapping):
                raise ValueError(value)
            return dict(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    shown = repr(value)[:80]
    raise ConfigurationError(f"{name} must be {_words(base)}, not {shown}")


def _words(base: Any) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", dict: "a mapping"}.get(
        base, "text"
    )


def plugin_keys() -> str:
    """The plugin docstring's list of these keys: name, type, default, meaning."""
    lines = []
    for name, field in _FIELDS.items():
        if not field.metadata["eodag"]:
            continue
        default = field.metadata["eodag_default"]
        if default is dataclasses.MISSING:
            default = field.default
        kind = _base_type(_TYPES[name]).__name__
        lines.append(f"* ``{name}`` ({kind}, default ``{default!r}``): {field.metadata['doc']}")
    return "\n".join(lines)


def click_options(*, skip: tuple[str, ...] = ()) -> Callable[[Any], Any]:
    """Click options for every field (``--max-transfers``...), decorating a command whose
    function receives them under the fields' names; see :func:`from_click`."""
    import click

    def decorate(function: Any) -> Any:
        for name in reversed(list(_FIELDS)):
            field = _FIELDS[name]
            if not field.metadata["cli"] or name in skip:
                continue
            function = _click_option(click, name, field)(function)
        return function

    return decorate


def _click_option(click: Any, name: str, field: dataclasses.Field[Any]) -> Any:
    meta = field.metadata
    flags = meta["flags"] or (f"--{name.replace('_', '-')}",)
    base = _base_type(_TYPES[name])
    common = {"help": meta["doc"], "hidden": meta["hidden"]}
    if base is bool:
        return click.option(*flags, name, is_flag=True, **common)
    if base is str:
        path = click.Path(file_okay=False)
        return click.option(*flags, name, type=path, default=None, **common)
    low, above = meta["minimum"], meta["above"]
    bound = low if low is not None else above
    kind = click.IntRange if base is int else click.FloatRange
    ranged = kind(min=bound, min_open=low is None and above is not None)
    default = field.default
    return click.option(
        *flags,
        name,
        type=ranged,
        default=default,
        show_default=default is not None,
        metavar="N" if default is None else None,
        **common,
    )


def from_click(params: dict[str, Any], **fixed: Any) -> StagingOptions:
    """The options among a command's parameters (taken out of ``params``), with ``fixed``."""
    values = {name: params.pop(name) for name in list(params) if name in NAMES}
    values.update(fixed)
    return StagingOptions(**{k: v for k, v in values.items() if v is not None})


__all__ = ["NAMES", "PollSchedule", "StagingOptions", "click_options", "from_click", "plugin_keys"]

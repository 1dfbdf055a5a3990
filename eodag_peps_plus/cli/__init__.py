"""``peps-plus``: one click group; each concern adds its commands from its own module."""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from ..exceptions import PepsPlusError

__all__ = ["COMMAND_MODULES", "cli", "main"]

#: Modules under ``eodag_peps_plus.cli`` that each define ``register(group)``.
COMMAND_MODULES = ("sandbox", "search", "download", "serve", "maja", "report", "legacy", "migrate")


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=(
        "Exit status: 0 done; 1 an error (one line on stderr); 2 a usage error, or products "
        "not all on disk yet (download); 130 interrupted. Each command's --help says more."
    ),
)
@click.option("-v", "--verbose", count=True, help="More logging (-v INFO, -vv DEBUG).")
@click.version_option(package_name="eodag-peps-plus")
def cli(verbose: int) -> None:
    """PEPS and GEODES: search, tape-aware downloads, MAJA processing, and a local sandbox."""
    set_verbosity(verbose)


def set_verbosity(verbose: int) -> None:
    """Logging for ``-v`` counts, before or after the subcommand (the larger count wins)."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    if root is not None:
        verbose = max(verbose, root.meta.get("verbose", 0))
        root.meta["verbose"] = verbose
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:  # urllib3 retry chatter is noise unless debugging; failures are reported
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    # distributed sets its loggers to INFO when imported, here and in the worker processes it
    # starts (which inherit the environment): a cluster's start and stop chatter, and the
    # "comm closed" tracebacks of its shutdown, only with -v.
    os.environ.setdefault(
        "DASK_LOGGING__DISTRIBUTED", logging.getLevelName(max(level, logging.INFO)).lower()
    )
    logging.getLogger().setLevel(level)


def _verbose_after(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    if value:
        set_verbosity(value)


def _accept_verbose_after_subcommand(group: click.Group) -> None:
    """``peps-plus search -v ...`` as well as ``peps-plus -v search ...``: users put it last."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _accept_verbose_after_subcommand(command)
        elif not any("-v" in p.opts for p in command.params):
            command.params.append(
                click.Option(
                    ["-v", "--verbose"],
                    count=True,
                    expose_value=False,
                    callback=_verbose_after,
                    help="More logging (-v INFO, -vv DEBUG), as before the subcommand.",
                )
            )


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__name__}.{_name}":
            raise
        continue
    _module.register(cli)
_accept_verbose_after_subcommand(cli)


def main(command: click.Command | None = None) -> None:
    """Entry point (``peps-plus``, or one of the legacy commands): typed errors become one line
    on stderr and exit code 1."""
    try:
        code = (command or cli).main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PepsPlusError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except OSError as exc:  # disk full, permission denied...: one line, not a traceback
        click.echo(
            f"Error: {exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}",
            err=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)

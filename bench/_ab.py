"""A/B against the previous release, from one script: the same measurement, interleaved rounds.

The previous release's package is exported from git (``git archive REV``) into a temporary
folder and imported by a child process through ``PYTHONPATH`` (which comes before the
editable install); this tree's package runs in a child process the same way, so both pay the
same start-up and neither shares a heap with the other. Rounds alternate which one goes
first, and the figures are medians over rounds, with their spread (min-max): the machine may be
shared.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The previous release when the repository has no ``v*`` tag yet: main as it was when
#: issue 24 (search at the JSON floor) was taken up.
PREVIOUS_RELEASE = "54b6aa2"
THIS = "this tree"


def previous_release() -> str:
    """The newest ``v*`` tag, else :data:`PREVIOUS_RELEASE`."""
    tag = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--tags", "--abbrev=0", "--match", "v*"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return tag or PREVIOUS_RELEASE


@contextmanager
def exported(rev: str) -> Iterator[Path]:
    """The package (and ``providers.yml``) of ``rev`` in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    try:
        archive = folder / "rev.tar"
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", "-o", str(archive), rev, "eodag_peps_plus",
             "providers.yml"],
            check=True,
        )  # fmt: skip
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def child(script: str, args: Sequence[str], tree: Path | None) -> dict[str, Any]:
    """One measurement: ``script --measure ARGS`` in a child importing ``tree``'s package
    (``None``: this tree's). The child prints one JSON line last."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, script, "--measure", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{Path(script).name} --measure failed: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    expected = str(tree) if tree is not None else str(ROOT)
    assert result["package"].startswith(expected), (result["package"], expected)
    return result


def rounds(
    script: str, args: Sequence[str], count: int, baseline: str | None
) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """``count`` interleaved rounds of this tree and ``baseline`` (a git rev, or ``None`` for
    this tree only): every child's result, per side."""
    results: dict[str, list[dict[str, Any]]] = {THIS: []}
    if baseline is None:
        for _ in range(count):
            results[THIS].append(child(script, args, None))
        return results, None
    results[baseline] = []
    with exported(baseline) as tree:
        for index in range(count):
            order = [(THIS, None), (baseline, tree)]
            for side, where in order if index % 2 == 0 else reversed(order):
                results[side].append(child(script, args, where))
    return results, baseline


def median(results: list[dict[str, Any]], figure: Callable[[dict[str, Any]], float]) -> float:
    return statistics.median(figure(result) for result in results)


def table(
    title: str,
    results: dict[str, list[dict[str, Any]]],
    baseline: str | None,
    figures: Sequence[tuple[str, Callable[[dict[str, Any]], float], str]],
) -> None:
    """Each figure (label, function of one child's result, format) as the median over rounds,
    this tree beside the baseline."""
    sides = [THIS] + ([baseline] if baseline else [])
    print(title)
    header = "".join(f"{side[:16]:>26}" for side in sides)
    rounds = len(results[THIS])
    print(f"  {f'figure (median [min-max] of {rounds} rounds)':<56}{header}")
    for label, figure, fmt in figures:
        cells = "".join(f"{_cell(results[side], figure, fmt):>26}" for side in sides)
        print(f"  {label:<56}{cells}")


def _cell(
    results: list[dict[str, Any]], figure: Callable[[dict[str, Any]], float], fmt: str
) -> str:
    """``median [min-max]``: the spread says how far one round's figure can be trusted."""
    values = [figure(result) for result in results]
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"

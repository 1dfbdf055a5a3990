"""``python -m eodag_peps_plus`` is ``peps-plus``."""

from .cli import main

main()

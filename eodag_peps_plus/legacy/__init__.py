"""What PEPS users' old scripts relied on, outside the scripts themselves: their ``-a`` auth
files and the town names PEPS resolved server-side. The drop-in commands (``cli/legacy.py``)
and the translator (``cli/migrate.py``) use these; neither adds a search or a downloader."""

__all__ = []

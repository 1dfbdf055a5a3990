"""Thin EODAG adapters over the backend abstraction (search, download, auth)."""

__all__ = []

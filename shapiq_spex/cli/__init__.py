"""Command line: ``shapiq-spex demo`` and ``shapiq-spex explain``."""

from __future__ import annotations

from shapiq_spex.cli.main import main

__all__ = ["main"]

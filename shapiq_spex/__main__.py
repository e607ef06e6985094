"""``python -m shapiq_spex``: the command line."""

from __future__ import annotations

import sys

from shapiq_spex.cli.main import main

sys.exit(main())

"""``python -m rawlive``: the command-line interface."""

from __future__ import annotations

from rawlive.cli import main

raise SystemExit(main())

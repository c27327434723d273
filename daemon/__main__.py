"""`python -m daemon` runs the same command line as the `fashiond` script."""

from __future__ import annotations

import sys

from daemon.cli import main

sys.exit(main())

"""``python -m rnnreport``: see :mod:`rnnreport.cli`."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())

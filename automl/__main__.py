"""``python -m automl``: the same as the ``automl`` command (how searches start their workers)."""

import sys

from automl.cli import main

sys.exit(main())

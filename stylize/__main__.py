"""``python -m stylize``: the same as the ``stylize`` command (torchrun and Ray start it this way)."""
import sys

from .cli import main

sys.exit(main())

"""``python -m bench`` is ``promlite bench``."""

import sys

from .cli import main

sys.exit(main())

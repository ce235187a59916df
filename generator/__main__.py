"""`python -m generator` is `payspec`."""

import sys

from .cli import main

sys.exit(main())

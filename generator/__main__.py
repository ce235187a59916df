"""`python -m generator` is `payspec`."""

from .cli import entry

entry()

"""Changes to devices: pyinfra deploys against a target (SSH host, or one the twin registers).

This package's __init__ stays free of pyinfra so that the CLI can name these defaults without
importing it (`preau --help` must answer at once).
"""

CONFIRM_TIMEOUT = 30.0
"""Seconds a router has to prove it is healthy after `net apply` before it is rolled back."""

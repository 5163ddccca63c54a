"""`python -m fastnn` runs the command line."""
import os
import sys

from .cli import main

status = main()
if status == 130:
    # After `python -m`, CPython ends the process by SIGINT instead of with this status when a
    # Ctrl-C interrupted code a C extension ran at import (it remembers that as unhandled);
    # the interruption was handled, so exit with the status, everything written and closed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
raise SystemExit(status)

"""`python -m rgan` runs the CLI."""

import sys

from rgan.cli import main

# Guarded: evaluation's spawned worker processes import this module again and must not re-run the CLI.
if __name__ == "__main__":
    sys.exit(main())

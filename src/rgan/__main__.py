"""`python -m rgan` runs the CLI."""

import sys

from rgan.cli import main

sys.exit(main())

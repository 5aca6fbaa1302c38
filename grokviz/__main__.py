"""`python -m grokviz ...` runs the CLI."""

import sys

from grokviz.cli import main

sys.exit(main())

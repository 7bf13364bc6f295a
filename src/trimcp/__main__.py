"""`python -m trimcp ...`: the same as the `trimcp` command."""

from __future__ import annotations

import sys

from trimcp.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""The standalone bundle's entry point (scripts/package.sh): the `triptych` command, GUI or CLI."""

import sys

from app.start import main

if __name__ == "__main__":
    sys.exit(main())

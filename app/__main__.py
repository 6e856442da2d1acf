"""`python -m app` = the `triptych` command."""

from app.cli import main

raise SystemExit(main())

"""`python -m app` = the `triptych` command."""

from app.start import main

raise SystemExit(main())

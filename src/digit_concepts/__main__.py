"""``python -m digit_concepts``: the command line (``cli.py``)."""

from .cli import main

raise SystemExit(main())

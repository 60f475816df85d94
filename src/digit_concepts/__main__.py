"""``python -m digit_concepts``: the command line (``cli.py``)."""

from digit_concepts.tool.cli import main

raise SystemExit(main())

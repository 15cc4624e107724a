"""``python -m memslim report data.jsonl``: see ``python -m memslim --help``."""

import sys

from memslim._report import main

sys.exit(main())

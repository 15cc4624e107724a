"""``python -m memslim report|audit|watch|watch-report``: see ``python -m memslim --help``."""

import sys

from memslim._cli import main

sys.exit(main())

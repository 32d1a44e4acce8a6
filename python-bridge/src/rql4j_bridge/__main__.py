"""``python -m rql4j_bridge ...``: same as the ``rql4j-bridge`` console script."""

import sys

from rql4j_bridge.cli import main

sys.exit(main())

"""``python -m cnngrade``: the same as the ``cnngrade`` command."""

import sys

from cnngrade.cli import main

sys.exit(main())

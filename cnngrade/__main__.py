"""``python -m cnngrade``: the same as the ``cnngrade`` command."""

import sys

from cnngrade.commands import main

sys.exit(main())

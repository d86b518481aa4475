"""``python -m recruit_reveal.cli``: the same as the ``recruit-reveal`` command."""

import sys

from . import main

sys.exit(main())

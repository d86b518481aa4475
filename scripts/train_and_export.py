"""The earlier system's training command, kept working as a thin shim over the CLI.

    python -m scripts.train_and_export --csv data/training.csv --position all --version 1.0.0

is exactly ``recruit-reveal train --csv data/training.csv --position all --version 1.0.0``;
every ``recruit-reveal train`` option is accepted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from recruit_reveal.cli import main as cli_main


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    return cli_main(["train", *args])


if __name__ == "__main__":
    sys.exit(main())

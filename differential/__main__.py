"""``python -m differential``: the command line of `differential.run`."""

import sys

from differential.run import main

if __name__ == "__main__":
    sys.exit(main())

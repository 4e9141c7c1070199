"""`python -m server` is `orgkb`."""

import sys

from orgkb.server.cli.main import main

sys.exit(main())

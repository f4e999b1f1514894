"""`python -m rai_pipelines.cli`, as the `rai` script."""

import sys

from rai_pipelines.cli import main

sys.exit(main())

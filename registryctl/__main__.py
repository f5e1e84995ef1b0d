"""`python -m registryctl ...`"""

import sys

from registryctl.cli import main

sys.exit(main())

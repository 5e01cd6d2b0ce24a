"""``python -m unroll.cli`` (and ``torchrun -m unroll.cli``): the unroll command line."""
import sys

from . import main

sys.exit(main())

"""`python -m keras_history` is the `keras-history` command."""

import sys

from keras_history.cli import main

sys.exit(main())

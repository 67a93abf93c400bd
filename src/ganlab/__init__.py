"""ganlab: a DVC pipeline from raw data to a report on classic generative models."""

import logging

__version__ = "0.1.0"

# The library logs; applications (the CLI, the stage scripts) decide where it goes.
logging.getLogger(__name__).addHandler(logging.NullHandler())

"""The production settings, with one change: collected static files go to the benchmark's own
temporary folder (BENCH_STATIC_ROOT) instead of the repository's `staticfiles/`, so a run
writes nothing outside its temp files. Everything else is `config.settings` as it is."""

import os

from config.settings import *  # noqa: F403

STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]

"""Shared set-up for ropecheck's own tests: Hypothesis profiles (default ``ci``)."""

import os

from hypothesis import settings

from ropecheck import profiles

profiles.register()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

pytest_plugins = ["pytester"]

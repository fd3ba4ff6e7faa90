"""Hypothesis profiles. CI runs ``pytest --hypothesis-profile=ci``
(derandomized, fixed example counts); ``--hypothesis-profile=thorough`` is
for long local runs; plain ``pytest`` uses ``dev``."""
import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
               print_blob=True)
settings.register_profile("ci", derandomize=True, max_examples=12, database=None, **_common)
settings.register_profile("dev", max_examples=25, **_common)
settings.register_profile("thorough", max_examples=400, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

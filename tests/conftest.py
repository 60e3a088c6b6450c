"""Settings for every test: hypothesis judges the code, not the speed of a shared 2-core machine."""

from hypothesis import HealthCheck, settings

# Timing checks (a per-example deadline, "data generation too slow") fail on a busy CI machine
# without saying anything about the code under test; every property and example count stays.
settings.register_profile("somex", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("somex")

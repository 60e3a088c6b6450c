"""Settings for every test: hypothesis judges the code, not the speed of a shared 2-core machine."""

import pytest
from hypothesis import HealthCheck, settings

# Timing checks (a per-example deadline, "data generation too slow") fail on a busy CI machine
# without saying anything about the code under test; every property and example count stays.
settings.register_profile("somex", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("somex")


@pytest.fixture(autouse=True)
def _the_cli_leaves_the_test_runs_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """`somex` run in-process (`nodes.app.cli.main`) would configure the whole process's logging for
    production (JSON, loggers cached on first use): every later test's `capture_logs` then misses the
    loggers cached meanwhile. The CLI's own logging is tested in subprocesses (tests/system) and
    `configure_logging` itself in tests/unit/test_logs.py."""
    import nodes.app.cli

    monkeypatch.setattr(nodes.app.cli, "configure_logging", lambda *args, **kwargs: None)

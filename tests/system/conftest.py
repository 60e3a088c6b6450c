"""System tests reuse the integration session's private RabbitMQ."""

from tests.integration.conftest import broker  # noqa: F401 - session fixture

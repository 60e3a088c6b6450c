"""System tests reuse the integration session's private RabbitMQ and PostgreSQL."""

from tests.integration.conftest import broker, postgres  # noqa: F401 - session fixtures

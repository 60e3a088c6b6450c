"""The application on top of hub and national: CLI, serve, demo, deployment, ceremonies."""

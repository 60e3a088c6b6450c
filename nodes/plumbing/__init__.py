"""Plumbing below hub and national: broker client, database, logs, config, HTTP and console kit."""

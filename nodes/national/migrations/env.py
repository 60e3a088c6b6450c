"""Alembic's entry point for this script directory: migrate on the connection somex passes in."""

from alembic import context

from nodes.plumbing.schema import run_env

run_env(context)

"""Integration tests against real services: gunicorn workers, Redis, PostgreSQL."""

"""Shared pytest configuration; fixtures live in tests/fixtures/ (tests/ is on pythonpath)."""

pytest_plugins = ["fixtures.netbox", "fixtures.lab", "fixtures.molecule"]

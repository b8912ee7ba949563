"""Checks of what preau produced or configured, shared by the CLI and the tests."""

"""Monitoring from the source of truth: Prometheus' targets and rules (targets), its HTTP API
read for the desk (status)."""

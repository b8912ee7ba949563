"""The twin: podman containers and their locally built images."""

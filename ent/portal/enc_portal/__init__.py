"""Stand-in ENT portal for capacity tests (not the département's ENT): see ../README.md."""

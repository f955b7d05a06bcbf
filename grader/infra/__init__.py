"""Provisioning: a reachable Docker engine and the diamol/* base images."""

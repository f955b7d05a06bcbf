"""Provisioning: a reachable Docker engine and the diamol/* base images.

    engine      a Docker engine that answers (install and start Debian's when root)
    baseimages  the diamol/* images: local -> one bounded pull -> offline stand-ins
    recipes     the stand-in recipes, their build contexts and content hashes
    rootfs      the Debian root filesystem (debootstrap, then `docker import`)
    standins    building one stand-in from its recipe and probing its tools
    apt         the host's apt-get and Debian mirror
    disk        free space here and in Docker's data root
    lock        one holder at a time per machine

The engine is reached only through `grader.engine` (its `admin` module for the set-up);
nothing here prints: progress goes to a `Progress` callback.
"""

from collections.abc import Callable

Progress = Callable[[str], None]

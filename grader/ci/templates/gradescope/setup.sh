#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image.
# Written by `dockerlab ci {{ lab }} --gradescope`.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip git
python3 -m venv /autograder/dockerlab-venv
/autograder/dockerlab-venv/bin/pip install /autograder/source/dockerlab

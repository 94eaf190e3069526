#!/usr/bin/env bash
# The benchmark in one command; see bench/run.py for what it measures and docs/performance.md for the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/run.py "$@"

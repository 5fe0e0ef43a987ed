#!/usr/bin/env bash
# Debian's docker-compose 1.29 validates deploy/compose.yaml without a Docker engine.
set -euo pipefail
command -v docker-compose >/dev/null 2>&1 || bash "$(dirname "$0")/apt_install.sh" docker-compose

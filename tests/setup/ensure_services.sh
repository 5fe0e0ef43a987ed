#!/usr/bin/env bash
# Install, when missing, the system programs the tests drive for real: each
# tests/setup/ensure_*.sh handles one (PostgreSQL, Chromium, ...). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for script in "$here"/ensure_*.sh; do
  [ "$(basename "$script")" = "ensure_services.sh" ] && continue
  bash "$script"
done

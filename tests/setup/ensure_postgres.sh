#!/usr/bin/env bash
# PostgreSQL server binaries for the store's tests (the fixture starts a throwaway
# cluster from them on 127.0.0.1 in a temporary folder). Idempotent.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  exit 0
fi
bash "$(dirname "$0")/apt_install.sh" postgresql

#!/usr/bin/env bash
# One command from a fresh clone to the running platform on http://localhost:8080.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
exec pnpm start

#!/usr/bin/env bash
# The whole system on this machine: installs what is missing, starts Kafka and PostGIS, migrates, loads
# Dalian, runs the API and a Faust worker, and feeds demo reports until Ctrl-C. Options go to `gridflow demo run`.
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash infra/bootstrap.sh
exec "$ROOT/.venv/bin/gridflow" demo run "$@"

#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs what is missing, starts the real Kafka and
# PostgreSQL + PostGIS, then lint, types, import contracts and pytest. A service that cannot start fails.
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash infra/bootstrap.sh
export PATH="$ROOT/.venv/bin:$PATH"
gridflow services up
echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy
echo "== import contracts"; lint-imports
echo "== pytest"; exec python -m pytest "$@"

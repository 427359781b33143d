#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs what is missing, starts the real Kafka and
# PostgreSQL + PostGIS, then lint, types, import contracts and pytest. A service that cannot start fails.
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash infra/bootstrap.sh
export PATH="$ROOT/.venv/bin:$PATH"
# Stop afterwards what this run started (a developer's running services are left as they were).
started=()
for service in postgres kafka; do
  gridflow services status "$service" >/dev/null 2>&1 || started+=("$service")
done
stop_started() { ((${#started[@]} == 0)) || gridflow services down "${started[@]}"; }
trap stop_started EXIT
gridflow services up
echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== import contracts"
lint-imports
echo "== pytest"
# pytest's exit 5 (no test collected) is a failure here too: a run that tests nothing proves nothing.
python -m pytest "$@"

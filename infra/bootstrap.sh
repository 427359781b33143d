#!/usr/bin/env bash
# Install what gridflow needs on this machine (Debian 12, root): system packages, the .venv, the Kafka jars,
# the dashboard's npm packages.
# Idempotent and quick when nothing changed: each slow step is skipped while the sha256 of its input
# matches the stamp left by its last successful run under the state dir.
# Start the services afterwards with: .venv/bin/python -m infra.services.cli up
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$(realpath -m "${GRIDFLOW_STATE_DIR:-$ROOT/.state}")"
STAMPS="$STATE/stamps"
STEP="start"
export DEBIAN_FRONTEND=noninteractive

say() { printf 'bootstrap: %s\n' "$*"; }
fail() { printf 'bootstrap: FAILED: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; printf "bootstrap: FAILED during step %s (exit %s)\n" "$STEP" "$rc" >&2' ERR

mkdir -p "$STAMPS" "$STATE/logs"
# The state dir holds the database, the logs, the app's password and the reports' photos: closed to other
# users. Until apt has made the postgres group, root alone may enter it.
[[ "$(stat -c %a "$STATE")" == 710 ]] || chmod 700 "$STATE"
# Engineers share one working tree: two bootstraps at once would pip-install into the same .venv.
exec 9>"$STATE/bootstrap.lock"
flock 9

stamp_matches() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
write_stamp() { printf '%s\n' "$2" >"$STAMPS/$1"; }

# --- (a) system packages -------------------------------------------------------------------------
STEP="apt"
[[ $EUID -eq 0 ]] || fail "run as root: apt-get and the postgres user need it"
# wrk drives the API in benchmarks/throughput_bench.py (a C load generator: Python clients are slower than the API).
want=(postgresql-15-postgis-3 libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1 libgl1 xvfb chromium fonts-wqy-microhei wrk)
# Java 8 says "1.8.0", 17 says "17.0.x": the first number is the major version from 9 on.
java_ok() {
  local major
  major="$(java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}')"
  [[ "$major" =~ ^[0-9]+$ ]] && ((major >= 17))
}
command -v java >/dev/null && java_ok || want+=(default-jre-headless)
command -v mvn >/dev/null || want+=(maven)
# npm installs the dashboard's map and chart libraries; a Node.js already on the machine will do.
command -v npm >/dev/null || want+=(nodejs npm)
missing=()
for pkg in "${want[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "apt: installing ${missing[*]}"
  apt=(apt-get -o DPkg::Lock::Timeout=300)
  "${apt[@]}" update -qq || fail "apt-get update failed"
  "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
  command -v java >/dev/null && java_ok || fail "java >= 17 is needed; found: $(java -version 2>&1 | head -n1)"
else
  say "apt: all packages present"
fi
# PostgreSQL runs as the postgres user and must traverse the state dir to reach its cluster; only that.
chgrp postgres "$STATE"
chmod 710 "$STATE"

# --- (b) Python virtualenv ----------------------------------------------------------------------
STEP="venv"
PY="$(command -v python3.11 || command -v python3 || true)"
[[ -n "$PY" ]] || fail "no python3.11 on PATH"
[[ "$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" == "3.11" ]] || fail "$PY is not Python 3.11"
venv_key="$(cat "$ROOT/pyproject.toml" <("$PY" -VV) | sha256sum | cut -d' ' -f1)"
if [[ -x "$ROOT/.venv/bin/python" ]] && "$ROOT/.venv/bin/python" -c '' && stamp_matches venv "$venv_key"; then
  say "venv: up to date"
else
  say "venv: installing .[dev,field] into .venv (a few minutes the first time)"
  # A venv whose interpreter is gone (Python upgraded) is rebuilt from scratch.
  "$ROOT/.venv/bin/python" -c '' 2>/dev/null || "$PY" -m venv --clear "$ROOT/.venv" || fail "could not create .venv"
  log="$STATE/logs/pip-install.log"
  if ! { "$ROOT/.venv/bin/python" -m pip install --upgrade pip \
    && (cd "$ROOT" && .venv/bin/python -m pip install -e '.[dev,field]'); } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    fail "pip install -e '.[dev,field]' failed; whole log in $log"
  fi
  write_stamp venv "$venv_key"
  say "venv: done"
fi

# --- (c) Kafka jars from Maven Central ----------------------------------------------------------
STEP="kafka-jars"
POM="$ROOT/infra/kafka/pom.xml"
LIBS="$STATE/kafka/libs"
jars_key="$(sha256sum "$POM" | cut -d' ' -f1)"
if compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null && stamp_matches kafka-jars "$jars_key"; then
  say "kafka jars: up to date ($(find "$LIBS" -name '*.jar' | wc -l) jars)"
else
  say "kafka jars: resolving $POM"
  # Copy into a fresh folder and swap it in, so a changed pom leaves no stale jar on the class path.
  rm -rf "$LIBS.new"
  log="$STATE/logs/mvn.log"
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies \
    -DoutputDirectory="$LIBS.new" -DincludeScope=runtime >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    fail "mvn dependency:copy-dependencies failed; whole log in $log"
  fi
  compgen -G "$LIBS.new/kafka_2.13-*.jar" >/dev/null || fail "maven ran but no kafka_2.13 jar arrived in $LIBS.new"
  rm -rf "$LIBS.old"
  [[ ! -d "$LIBS" ]] || mv "$LIBS" "$LIBS.old"
  mv "$LIBS.new" "$LIBS"
  rm -rf "$LIBS.old"
  write_stamp kafka-jars "$jars_key"
  say "kafka jars: $(find "$LIBS" -name '*.jar' | wc -l) jars in $LIBS"
fi

# --- (d) the dashboard's JavaScript libraries from npm ---------------------------------------------
STEP="npm"
DASH="$ROOT/dashboard"
npm_key="$(cat "$DASH/package-lock.json" <(node --version) | sha256sum | cut -d' ' -f1)"
if [[ -d "$DASH/node_modules/maplibre-gl/dist" && -d "$DASH/node_modules/echarts/dist" ]] \
  && stamp_matches npm "$npm_key"; then
  say "npm: dashboard libraries up to date"
else
  say "npm: npm ci in dashboard/ (MapLibre GL JS, Apache ECharts, as the lockfile pins them)"
  log="$STATE/logs/npm-ci.log"
  # npm ci installs exactly the lockfile, after removing node_modules: no stale package survives.
  if ! (cd "$DASH" && npm ci --no-audit --no-fund) >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    fail "npm ci in $DASH failed; whole log in $log"
  fi
  [[ -f "$DASH/node_modules/maplibre-gl/dist/maplibre-gl.mjs" ]] || fail "npm ci ran but maplibre-gl's dist is missing"
  write_stamp npm "$npm_key"
  say "npm: done"
fi

STEP="done"
say "ready; start the services with: .venv/bin/python -m infra.services.cli up"

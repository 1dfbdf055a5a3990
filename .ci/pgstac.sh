#!/usr/bin/env bash
# PostgreSQL + PostGIS (Debian packages) and pypgstac + stac-fastapi-pgstac (PyPI) for the
# tests that run the STAC backend against a real stac-fastapi-pgstac server.
# Usage: .ci/pgstac.sh VENV   (e.g. .ci/pgstac.sh "$PWD/.venv"). Needs root for apt-get.
set -euo pipefail
venv="${1:?usage: $0 VENV}"

export DEBIAN_FRONTEND=noninteractive
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -q
  # The default PostgreSQL of the distribution, and the PostGIS built for it.
  $sudo_cmd apt-get install -y -q --no-install-recommends postgresql postgresql-contrib
  pg_version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
  $sudo_cmd apt-get install -y -q --no-install-recommends "postgresql-${pg_version}-postgis-3"
fi

# The Python side is the project's own "pgstac" extra (ranges pinned in pyproject.toml).
"$venv/bin/pip" install -q "$(cd "$(dirname "$0")/.." && pwd)[pgstac]"

echo "pgstac ready: PostgreSQL $(ls /usr/lib/postgresql | sort -V | tail -1), $("$venv/bin/python" -c 'import pypgstac; print("pypgstac", pypgstac.__version__)')"

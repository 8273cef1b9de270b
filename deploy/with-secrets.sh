#!/bin/sh
# Build the connection strings from the database password file (a Docker or Kubernetes
# secret) into the environment, where automl and mlflow read them, then run the command.
# The password so never appears on a command line (ps), in a log, a run or a report.
#   DB_PASSWORD_FILE  the secret's file (default /run/secrets/db_password)
#   DB_HOST, DB_USER  the PostgreSQL server and user (default db, automl)
set -eu
file="${DB_PASSWORD_FILE:-/run/secrets/db_password}"
if [ -r "$file" ]; then
    password="$(cat "$file")"
    base="postgresql://${DB_USER:-automl}:${password}@${DB_HOST:-db}:5432"
    export AUTOML_STORAGE="${AUTOML_STORAGE:-$base/optuna}"
    export MLFLOW_BACKEND_STORE_URI="${MLFLOW_BACKEND_STORE_URI:-$base/mlflow}"
fi
exec "$@"

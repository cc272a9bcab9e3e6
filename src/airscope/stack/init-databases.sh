#
# The postgres image runs it once, when it initialises an empty data directory: a login role and a
# database, both named after the service, for each service that requires PostgreSQL, and the
# read-only role postgres-exporter connects as. Running it again creates what is missing and resets
# the passwords from the environment, e.g. after adding a service:
#   docker compose -f deploy/docker-compose.yml exec postgres bash /docker-entrypoint-initdb.d/init-databases.sh
set -eo pipefail

# psql's own quoting (:'x' literal, :"x" identifier) keeps any password safe in the SQL.
airscope_psql() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
        --dbname "${POSTGRES_DB:-postgres}" "$@"
}

airscope_role() {  # name, password
    airscope_psql --set=name="$1" --set=password="$2" <<'SQL'
SELECT format('CREATE ROLE %I', :'name') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name')\gexec
ALTER ROLE :"name" WITH LOGIN PASSWORD :'password';
SQL
}

airscope_database() {  # name: owned by the role of the same name
    airscope_psql --set=name="$1" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name')\gexec
SQL
}

#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume, as its superuser.
# Creates the service's own login and database: the login owns that database and its public
# schema and nothing else (no superuser, no CREATEDB, no CREATEROLE), and no other role may
# connect to or create objects in it. The service and its migrate job connect as this login only.
#
# Needs: POSTGRES_USER, POSTGRES_DB (the superuser and its database, set by the image),
# TASKBUDGETS_DB, TASKBUDGETS_DB_USER, TASKBUDGETS_DB_PASSWORD.
set -eu

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v db="$TASKBUDGETS_DB" -v login="$TASKBUDGETS_DB_USER" -v password="$TASKBUDGETS_DB_PASSWORD" <<'SQL'
CREATE ROLE :"login" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE DATABASE :"db" OWNER :"login";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
\connect :"db"
ALTER SCHEMA public OWNER TO :"login";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL

#!/bin/bash
# Run by the postgres image at the first start of an empty data volume: let the read replica of
# docker-compose.yml (profile "replica") stream from this server, as the same user, with a password.
set -e
echo "host replication ${POSTGRES_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"

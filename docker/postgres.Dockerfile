# PostgreSQL 15 from Debian's packages, with the official image's environment contract
# (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA): built here so the stack needs no image
# registry. The official postgres image can replace it (POSTGRES_IMAGE in compose/.env).
ARG RUNTIME_IMAGE=debian:bookworm-slim
FROM ${RUNTIME_IMAGE}
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/no-main-cluster.conf \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      postgresql-15 tini >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY docker/postgres-start.sh /usr/local/bin/yapit-postgres-start
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data/pgdata
USER postgres
EXPOSE 5432
# Postgres stops cleanly on SIGTERM (smart shutdown); tini reaps what it leaves.
STOPSIGNAL SIGINT
ENTRYPOINT ["tini", "--", "yapit-postgres-start"]

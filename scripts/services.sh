#!/usr/bin/env bash
# Sourced by scripts/up, scripts/test and .ci/run: makes sure the tools and the local
# PostgreSQL and Redis that Charter needs are there and running. Starts them when they are
# installed but stopped; says what to install when they are missing.
# Set CHARTER_SKIP_SERVICES=1 to manage PostgreSQL and Redis yourself (remote servers).

die() { echo "charter: $*" >&2; exit 1; }

require_rust() {
  command -v cargo >/dev/null 2>&1 ||
    die "cargo is not installed: install Rust 1.94 or newer (rustup), then retry."
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "charter: starting PostgreSQL $version" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
      die "could not start PostgreSQL $version (pg_ctlcluster $version main start)"
  elif command -v pg_ctl >/dev/null 2>&1 && [ -n "${PGDATA:-}" ]; then
    echo "charter: starting PostgreSQL in $PGDATA" >&2
    pg_ctl -D "$PGDATA" -l "$PGDATA/server.log" start || die "could not start PostgreSQL"
  else
    die "PostgreSQL is not installed or not running on 127.0.0.1:5432. Install it (Debian/Ubuntu: apt-get install postgresql) or set CHARTER_DATABASE_URL and CHARTER_SKIP_SERVICES=1."
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return 0
    sleep 1
  done
  die "PostgreSQL did not become ready on 127.0.0.1:5432"
}

ensure_redis() {
  if command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; then
    return 0
  fi
  command -v redis-server >/dev/null 2>&1 ||
    die "Redis is not installed or not running on 127.0.0.1:6379. Install it (Debian/Ubuntu: apt-get install redis-server) or set CHARTER_REDIS_URL and CHARTER_SKIP_SERVICES=1."
  echo "charter: starting Redis" >&2
  mkdir -p /tmp/charter-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/charter-redis --logfile /tmp/charter-redis/redis.log ||
    die "could not start Redis"
  for _ in $(seq 1 30); do
    [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ] && return 0
    sleep 1
  done
  die "Redis did not become ready on 127.0.0.1:6379"
}

ensure_services() {
  require_rust
  if [ "${CHARTER_SKIP_SERVICES:-0}" = 1 ]; then return 0; fi
  command -v pg_isready >/dev/null 2>&1 ||
    die "PostgreSQL client tools are missing (pg_isready). Install PostgreSQL (Debian/Ubuntu: apt-get install postgresql)."
  ensure_postgres
  ensure_redis
}

#!/usr/bin/env bash
# Make sure the local PostgreSQL, Redis and RabbitMQ answer before tests run; start what is
# down with the machine's own start commands, and fail with one clear line if one still does not.
# The start_* functions are called indirectly, through check's third argument.
# shellcheck disable=SC2317
set -uo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name port seconds
  local i
  for ((i = 0; i < $3 * 4; i++)); do
    answers "$2" && return 0
    sleep 0.25
  done
  return 1
}

start_postgres() {
  local dirs version
  dirs=(/etc/postgresql/*/)
  version=$(basename "${dirs[0]}")
  [ -d "/etc/postgresql/$version" ] && pg_ctlcluster --skip-systemctl-redirect "$version" main start
}
start_redis() {
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}
start_rabbitmq() { rabbitmq-server -detached; }

failed=0
check() { # name port starter seconds
  if answers "$2"; then return 0; fi
  echo "ensure-services: $1 is down on 127.0.0.1:$2, starting it" >&2
  "$3" >/dev/null 2>&1 || true
  if ! wait_for "$1" "$2" "$4"; then
    echo "ensure-services: $1 does not answer on 127.0.0.1:$2; start it and retry, or run make deps-up (Docker; docs/onboarding.md)" >&2
    failed=1
  fi
}

check PostgreSQL 5432 start_postgres 30
check Redis 6379 start_redis 15
check RabbitMQ 5672 start_rabbitmq 90
exit "$failed"

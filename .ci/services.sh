#!/usr/bin/env bash
# The real servers km-mapper's tests run against, on 127.0.0.1 only:
#
#   PostgreSQL (Debian's package)        port 55432  database km, role km (password km)
#   MariaDB (Debian's package)           port 33306  database km, user km (password km)
#   Apache Jena Fuseki (Maven Central)   port 33030  in-memory dataset /km, updatable
#
# Usage: .ci/services.sh start|stop
#
# `start` installs what is missing (apt-get for the two databases, Maven for Fuseki), makes fresh
# data directories under KM_SERVICES_DIR (default /tmp/km-ci-services), starts the three servers,
# waits until each answers, and prints the settings the tests read as `export` lines on stdout
# (progress goes to stderr), also writing them to $KM_SERVICES_DIR/env.sh for `source`. A server
# that already runs from an earlier `start` is kept, so a second `start` is quick. `stop` stops
# the three and does nothing for a server that does not run. Each server logs to a file in its
# directory; a failed start prints the tail of that log and exits non-zero. Every wait is bounded.
#
# The servers are for tests only: PostgreSQL trusts its Unix socket (passwords over TCP) and
# runs with fsync off, MariaDB flushes lazily, Fuseki keeps its data in memory.
set -euo pipefail

DIR="${KM_SERVICES_DIR:-/tmp/km-ci-services}"
HOST=127.0.0.1
PG_PORT="${KM_SERVICES_POSTGRES_PORT:-55432}"
MARIADB_PORT="${KM_SERVICES_MARIADB_PORT:-33306}"
FUSEKI_PORT="${KM_SERVICES_FUSEKI_PORT:-33030}"
FUSEKI_VERSION=5.6.0
# Jena's own log4j2 version (the ver.log4j2 property of org.apache.jena:jena:5.6.0). Fuseki's
# logging backend is an optional dependency of jena-fuseki-main, so the pom names it.
LOG4J_VERSION=2.25.2
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

PG_DIR="$DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
MARIADB_DIR="$DIR/mariadb"
MARIADB_DATA="$MARIADB_DIR/data"
MARIADB_SOCKET="$MARIADB_DIR/mysql.sock"
MARIADB_PID="$MARIADB_DIR/mariadbd.pid"
MARIADB_LOG="$MARIADB_DIR/mariadb.log"
FUSEKI_DIR="$DIR/fuseki"
FUSEKI_LIB="$FUSEKI_DIR/lib"
FUSEKI_PID="$FUSEKI_DIR/fuseki.pid"
FUSEKI_LOG="$FUSEKI_DIR/fuseki.log"
ENV_FILE="$DIR/env.sh"

say() { echo "services: $*" >&2; }

# fail MESSAGE [LOG]: says MESSAGE, shows the tail of LOG, and exits non-zero.
fail() {
  say "FAILED: $1"
  if [[ $# -gt 1 && -f "$2" ]]; then
    echo "----- the last lines of $2 -----" >&2
    tail -n 40 "$2" >&2 || true
    echo "-----" >&2
  fi
  exit 1
}

is_root() { [[ "$(id -u)" == 0 ]]; }

# alive PIDFILE PATTERN: the process in PIDFILE runs, and its command line holds PATTERN (so a
# recycled pid is never taken for our server).
alive() {
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(head -n 1 "$1" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

# stop_pid NAME PIDFILE PATTERN: TERM, up to 30 s for it to end, then KILL.
stop_pid() {
  local name="$1" pidfile="$2" pattern="$3" pid
  if ! alive "$pidfile" "$pattern"; then
    rm -f "$pidfile"
    say "$name: not running"
    return 0
  fi
  pid="$(head -n 1 "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    alive "$pidfile" "$pattern" || break
    sleep 0.5
  done
  if alive "$pidfile" "$pattern"; then
    say "$name: still running after 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  say "$name: stopped"
}

# apt_install PACKAGE...: installs Debian packages without starting their services (a package's
# own service would listen on the default port, outside our control).
apt_install() {
  local log="$DIR/apt.log" policy=/usr/sbin/policy-rc.d added_policy=""
  is_root || fail "$* missing, and only root may apt-get install it"
  say "apt-get install $* (log: $log)"
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# added by .ci/services.sh while it installs packages\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    added_policy=1
  fi
  local status=0
  {
    # Lock::Timeout: another apt (say, a machine's first unattended upgrade) is waited for.
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o DPkg::Lock::Timeout=300 update -q &&
      DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o DPkg::Lock::Timeout=300 \
        install -y -q --no-install-recommends "$@"
  } >>"$log" 2>&1 || status=$?
  if [[ -n "$added_policy" ]]; then rm -f "$policy"; fi
  [[ "$status" == 0 ]] || fail "apt-get install $*" "$log"
}

# http_ok URL: a GET of URL answers 2xx within 2 s.
http_ok() {
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null -m 2 "$1" 2>/dev/null
  else
    "$(command -v python3 || command -v python)" - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
EOF
  fi
}

# ----------------------------------------------------------------------------- PostgreSQL

pg_bindir() {
  local dir
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    if [[ -x "$dir/pg_ctl" && -x "$dir/initdb" && -x "$dir/postgres" ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

# as_pg COMMAND...: runs COMMAND as the postgres OS user when we are root (the server refuses
# to run as root), else as ourselves.
as_pg() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_running() {
  [[ -f "$PG_DATA/postmaster.pid" ]] &&
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1 &&
    timeout 5 "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 3
}

start_postgres() {
  PG_BIN="$(pg_bindir)" || {
    apt_install postgresql
    PG_BIN="$(pg_bindir)" || fail "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin"
  }
  if is_root && ! id -u postgres >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/false postgres
  fi
  if pg_running; then
    say "PostgreSQL: already running on $HOST:$PG_PORT"
  else
    say "PostgreSQL: a fresh cluster in $PG_DATA ($PG_BIN)"
    if [[ -f "$PG_DATA/postmaster.pid" ]]; then
      as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" stop -m immediate -t 30 >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_DIR"
    mkdir -p "$PG_DIR"
    if is_root; then
      chown postgres: "$PG_DIR"
      runuser -u postgres -- test -w "$PG_DIR" ||
        fail "the postgres user cannot reach $PG_DIR: set KM_SERVICES_DIR to a directory it can"
    fi
    # Passwords over TCP (so a test can see a wrong one refused); trust on the socket, where
    # this script sets up the role.
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 --encoding=UTF8 --locale=C \
      >"$PG_DIR/initdb.log" 2>&1 || fail "PostgreSQL initdb" "$PG_DIR/initdb.log"
    cat >>"$PG_DATA/postgresql.conf" <<EOF

# .ci/services.sh: a throwaway test server on $HOST only
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null 2>&1 ||
      fail "PostgreSQL did not start on $HOST:$PG_PORT" "$PG_LOG"
    pg_running || fail "PostgreSQL does not answer on $HOST:$PG_PORT" "$PG_LOG"
    say "PostgreSQL: started on $HOST:$PG_PORT"
  fi
  # The role km (allowed to create databases: the tests give each test a database of its own)
  # and its database km. Idempotent.
  timeout 60 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres \
    -d postgres >>"$PG_DIR/setup.log" 2>&1 <<'EOF' || fail "PostgreSQL setup" "$PG_DIR/setup.log"
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'km') THEN
    CREATE ROLE km LOGIN CREATEDB PASSWORD 'km';
  END IF;
END $$;
SELECT 'CREATE DATABASE km OWNER km' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'km')
\gexec
EOF
}

stop_postgres() {
  local bin
  if [[ ! -f "$PG_DATA/postmaster.pid" ]]; then
    say "PostgreSQL: not running"
    return 0
  fi
  bin="$(pg_bindir)" || fail "no PostgreSQL server binaries to stop $PG_DATA with"
  as_pg "$bin/pg_ctl" -D "$PG_DATA" stop -m fast -t 60 >/dev/null 2>&1 ||
    as_pg "$bin/pg_ctl" -D "$PG_DATA" stop -m immediate -t 30 >/dev/null 2>&1 ||
    say "PostgreSQL: pg_ctl stop failed (see $PG_LOG)"
  say "PostgreSQL: stopped"
}

# ----------------------------------------------------------------------------- MariaDB

mariadb_bin() {
  local name
  for name in mariadbd mysqld; do
    if command -v "$name" >/dev/null; then
      command -v "$name"
      return 0
    elif [[ -x "/usr/sbin/$name" ]]; then
      echo "/usr/sbin/$name"
      return 0
    fi
  done
  return 1
}

mariadb_user() { if is_root; then echo root; else id -un; fi; }

mariadb_ping() {
  timeout 5 mariadb-admin --no-defaults --protocol=socket --socket="$MARIADB_SOCKET" \
    -u "$(mariadb_user)" --connect-timeout=2 ping >/dev/null 2>&1
}

mariadb_running() { alive "$MARIADB_PID" "$MARIADB_DATA" && mariadb_ping; }

start_mariadb() {
  local server user
  server="$(mariadb_bin)" || {
    apt_install mariadb-server
    server="$(mariadb_bin)" || fail "no mariadbd after installing mariadb-server"
  }
  user="$(mariadb_user)"
  if mariadb_running; then
    say "MariaDB: already running on $HOST:$MARIADB_PORT"
  else
    say "MariaDB: a fresh datadir in $MARIADB_DATA ($server)"
    stop_pid MariaDB "$MARIADB_PID" "$MARIADB_DATA" 2>/dev/null
    rm -rf "$MARIADB_DIR"
    mkdir -p "$MARIADB_DIR"
    timeout 120 mariadb-install-db --no-defaults --datadir="$MARIADB_DATA" --user="$user" \
      --skip-test-db >"$MARIADB_DIR/install-db.log" 2>&1 ||
      fail "mariadb-install-db" "$MARIADB_DIR/install-db.log"
    # --no-defaults: none of /etc/mysql's settings (ports, sockets, the Debian maintenance user).
    nohup "$server" --no-defaults --datadir="$MARIADB_DATA" --user="$user" \
      --bind-address="$HOST" --port="$MARIADB_PORT" --socket="$MARIADB_SOCKET" \
      --pid-file="$MARIADB_PID" --log-error="$MARIADB_LOG" --skip-name-resolve \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
      --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
      </dev/null >>"$MARIADB_LOG" 2>&1 &
    local tries=120
    for ((i = 1; i <= tries; i++)); do
      mariadb_ping && alive "$MARIADB_PID" "$MARIADB_DATA" && break
      sleep 0.5
    done
    mariadb_running || fail "MariaDB did not answer on $MARIADB_SOCKET" "$MARIADB_LOG"
    say "MariaDB: started on $HOST:$MARIADB_PORT"
  fi
  # The user km from 127.0.0.1 (TCP; names are not resolved) and localhost (the socket), with
  # all rights on km and on every database whose name starts with km_ (the tests give each test
  # a database of its own). Idempotent.
  timeout 60 mariadb --no-defaults --protocol=socket --socket="$MARIADB_SOCKET" -u "$user" \
    >>"$MARIADB_DIR/setup.log" 2>&1 <<'EOF' || fail "MariaDB setup" "$MARIADB_DIR/setup.log"
CREATE DATABASE IF NOT EXISTS km CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'km'@'127.0.0.1' IDENTIFIED BY 'km';
CREATE USER IF NOT EXISTS 'km'@'localhost' IDENTIFIED BY 'km';
GRANT ALL PRIVILEGES ON km.* TO 'km'@'127.0.0.1', 'km'@'localhost';
GRANT ALL PRIVILEGES ON `km\_%`.* TO 'km'@'127.0.0.1', 'km'@'localhost';
FLUSH PRIVILEGES;
EOF
}

stop_mariadb() { stop_pid MariaDB "$MARIADB_PID" "$MARIADB_DATA"; }

# ----------------------------------------------------------------------------- Fuseki

# Fuseki's jars: jena-fuseki-main and its runtime dependencies, copied by Maven into
# $FUSEKI_LIB from a throwaway pom. Done again only when that pom changes.
fetch_fuseki() {
  local pom="$FUSEKI_DIR/pom.xml" wanted
  wanted="$(
    cat <<EOF
<!-- Written by .ci/services.sh: the jars of Apache Jena Fuseki for km-mapper's tests. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>km-ci</groupId>
  <artifactId>fuseki-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.jena</groupId>
      <artifactId>jena-fuseki-main</artifactId>
      <version>$FUSEKI_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  )"
  mkdir -p "$FUSEKI_DIR"
  if [[ -f "$FUSEKI_LIB/.complete" && -f "$pom" && "$(cat "$pom")" == "$wanted" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || fail "mvn is not on PATH (Maven fetches Fuseki)"
  say "Fuseki: fetching jena-fuseki-main $FUSEKI_VERSION with Maven (log: $FUSEKI_DIR/maven.log)"
  printf '%s\n' "$wanted" >"$pom"
  rm -rf "$FUSEKI_LIB"
  timeout 900 mvn -B -ntp -f "$pom" "$DEPENDENCY_PLUGIN:copy-dependencies" \
    -DoutputDirectory="$FUSEKI_LIB" -DincludeScope=runtime >"$FUSEKI_DIR/maven.log" 2>&1 ||
    fail "fetching Fuseki with Maven" "$FUSEKI_DIR/maven.log"
  [[ -f "$FUSEKI_LIB/jena-fuseki-main-$FUSEKI_VERSION.jar" ]] ||
    fail "Maven fetched no jena-fuseki-main-$FUSEKI_VERSION.jar" "$FUSEKI_DIR/maven.log"
  touch "$FUSEKI_LIB/.complete"
}

FUSEKI_PATTERN="FusekiMainCmd"
fuseki_ping() { http_ok "http://$HOST:$FUSEKI_PORT/\$/ping"; }
fuseki_running() { alive "$FUSEKI_PID" "$FUSEKI_PATTERN" && fuseki_ping; }

start_fuseki() {
  fetch_fuseki
  if fuseki_running; then
    say "Fuseki: already running on $HOST:$FUSEKI_PORT"
    return 0
  fi
  command -v java >/dev/null || fail "java is not on PATH (Fuseki needs Java 17 or later)"
  stop_pid Fuseki "$FUSEKI_PID" "$FUSEKI_PATTERN" 2>/dev/null
  : >"$FUSEKI_LOG"
  # --localhost: it listens on 127.0.0.1 only; --mem --update: an in-memory dataset at /km with
  # SPARQL query, update and the graph store protocol; --ping: GET /$/ping answers when it is up.
  # shellcheck disable=SC2086
  nohup java ${KM_SERVICES_FUSEKI_JAVA_OPTS:--Xmx512m} -cp "$FUSEKI_LIB/*" \
    org.apache.jena.fuseki.main.cmds.FusekiMainCmd --localhost --port="$FUSEKI_PORT" --ping \
    --mem --update /km </dev/null >>"$FUSEKI_LOG" 2>&1 &
  echo $! >"$FUSEKI_PID"
  local tries=120
  for ((i = 1; i <= tries; i++)); do
    alive "$FUSEKI_PID" "$FUSEKI_PATTERN" || break
    fuseki_ping && break
    sleep 0.5
  done
  fuseki_running || fail "Fuseki did not answer on $HOST:$FUSEKI_PORT" "$FUSEKI_LOG"
  http_ok "http://$HOST:$FUSEKI_PORT/km/query?query=ASK%7B%7D" ||
    fail "Fuseki answers, but not a query on /km/query" "$FUSEKI_LOG"
  say "Fuseki: started on $HOST:$FUSEKI_PORT"
}

stop_fuseki() { stop_pid Fuseki "$FUSEKI_PID" "$FUSEKI_PATTERN"; }

# ----------------------------------------------------------------------------- main

write_env() {
  cat >"$ENV_FILE" <<EOF
# Written by .ci/services.sh start: the servers of km-mapper's tests (source this file).
export KM_TEST_POSTGRES_URL=postgresql+asyncpg://km:km@$HOST:$PG_PORT/km
export KM_TEST_MARIADB_URL=mysql+aiomysql://km:km@$HOST:$MARIADB_PORT/km
export KM_TEST_FUSEKI_URL=http://$HOST:$FUSEKI_PORT/km
export KM_TEST_SERVICES_REQUIRED=1
EOF
  grep '^export ' "$ENV_FILE"
}

main() {
  case "${1:-}" in
    start)
      mkdir -p "$DIR"
      chmod 755 "$DIR"
      cd "$DIR" # the postgres user may not enter the directory we were started in
      local began=$SECONDS
      start_postgres
      start_mariadb
      start_fuseki
      write_env
      say "all three up in $((SECONDS - began)) s; the settings are in $ENV_FILE"
      ;;
    stop)
      stop_fuseki
      stop_mariadb
      stop_postgres
      ;;
    *)
      echo "usage: $0 start|stop" >&2
      exit 2
      ;;
  esac
}

main "$@"

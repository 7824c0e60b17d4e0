#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the state store tests (iac-core/tests/state_stores.rs).
#   .ci/postgres.sh start  installs the Debian `postgresql` package if initdb is missing, makes a
#                          cluster in a temporary directory as an unprivileged user, listening on
#                          127.0.0.1 on a free port with a random password and TLS (a certificate
#                          for 127.0.0.1 from a throw-away CA), and writes target/ci/postgres.env
#                          (IAC_STATE_TEST_PG_URL=postgres://..., IAC_STATE_TEST_PG_CA=CA file).
#   .ci/postgres.sh stop   stops that cluster and removes its directory and the env file.
set -euo pipefail
cd "$(dirname "$0")/.."
env_file="$(pwd)/target/ci/postgres.env"
pg_user=iacpg

# Runs a command as the cluster's owner (root may not run PostgreSQL).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi
}

find_bin() {
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1
}

start() {
  local bin
  bin=$(find_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres.sh: installing the Debian postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends postgresql >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends postgresql >/dev/null; }
    bin=$(find_bin)
  fi
  if [ "$(id -u)" -eq 0 ] && ! id "$pg_user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
  fi
  local data password port
  data=$(mktemp -d /tmp/iac-pg.XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown "$pg_user" "$data"
  password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$password" >"$data/pwfile"
  [ "$(id -u)" -eq 0 ] && chown "$pg_user" "$data/pwfile"
  as_owner "$bin/initdb" -D "$data/cluster" -U iac --pwfile="$data/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$data/initdb.log" 2>&1 \
    || { cat "$data/initdb.log"; exit 1; }
  rm -f "$data/pwfile"
  # TLS: a CA and a server certificate for 127.0.0.1, so that the tests verify a real chain.
  (
    cd "$data"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=iac test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.pem 2>/dev/null
    chmod 600 server.key
    rm -f ca.key server.csr server.ext ca.srl
  )
  [ "$(id -u)" -eq 0 ] && chown "$pg_user" "$data/server.key" "$data/server.pem"
  # A free port: ask the kernel for one, then retry if someone takes it before the server.
  for _ in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
      || echo $(( 20000 + RANDOM % 40000 )))
    if as_owner "$bin/pg_ctl" -D "$data/cluster" -l "$data/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c full_page_writes=off \
         -c ssl=on -c ssl_cert_file=$data/server.pem -c ssl_key_file=$data/server.key" \
      start >/dev/null; then
      break
    fi
    port=""
  done
  [ -n "$port" ] || { echo "postgres.sh: the server did not start"; tail -n 30 "$data/server.log"; exit 1; }
  as_owner "$bin/createdb" -h "$data" -p "$port" -U iac iac_test
  mkdir -p "$(dirname "$env_file")"
  umask 077
  cat >"$env_file" <<ENV
IAC_STATE_TEST_PG_URL=postgres://iac:$password@127.0.0.1:$port/iac_test
IAC_STATE_TEST_PG_CA=$data/ca.pem
IAC_PG_BIN=$bin
IAC_PG_DATA=$data
ENV
  echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $data, URL in $env_file)"
}

stop() {
  [ -f "$env_file" ] || { echo "postgres.sh: nothing to stop"; return 0; }
  # shellcheck disable=SC1090
  . "$env_file"
  as_owner "$IAC_PG_BIN/pg_ctl" -D "$IAC_PG_DATA/cluster" -m fast -w stop >/dev/null || true
  rm -rf "$IAC_PG_DATA" "$env_file"
  echo "postgres.sh: stopped and removed $IAC_PG_DATA"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

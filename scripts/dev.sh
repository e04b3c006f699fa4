#!/usr/bin/env bash
# Developer entry points for credit-crm. Every subcommand runs scripts/setup.sh first (fast when done).
#
#   bash scripts/dev.sh demo [ARGS]     set up, then `crm demo`: a small synthetic bank through the pipeline
#   bash scripts/dev.sh test [ARGS]     set up, start PostgreSQL + RabbitMQ if needed, ruff, pytest [ARGS]
#   bash scripts/dev.sh ui [ARGS]       set up, then `crm ui` (Dagster UI on http://127.0.0.1:3000)
#   bash scripts/dev.sh services        only make sure PostgreSQL (5432) and RabbitMQ (5672) answer
#   bash scripts/dev.sh setup           only scripts/setup.sh
#   bash scripts/dev.sh lock            after editing dependencies in pyproject.toml: install them into
#                                       .venv, keeping what is installed, and rewrite constraints.txt
#
# `test` fails when pytest fails, collects nothing (exit 5) or runs no test (everything skipped).
# Extra pytest arguments pass through, e.g. `bash scripts/dev.sh test -n auto` or `... test -m "not slow"`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"

log() { printf '[dev] %s\n' "$*" >&2; }
die() { printf '[dev] ERROR: %s\n' "$*" >&2; exit 1; }

setup() { bash "$ROOT/scripts/setup.sh"; }

# --- services for the tests --------------------------------------------------------------------------------
PG_HOST=127.0.0.1 PG_PORT=5432 MQ_PORT=5672

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" >/dev/null 2>&1; }

wait_port() {
    # wait_port HOST PORT SECONDS NAME
    local i
    for ((i = 0; i < $3; i++)); do
        port_open "$1" "$2" && return 0
        sleep 1
    done
    die "$4 did not open $1:$2 within $3 s"
}

can_manage_services() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
    log "installing $* (Debian)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null >&2
}

# shellcheck disable=SC2012  # version folder names are plain numbers
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

pg_configure() {
    # trust auth on loopback, a `root` superuser (psql as root) and database `test`: what the tests expect
    local ver hba
    ver="$(pg_version)"
    hba="/etc/postgresql/$ver/main/pg_hba.conf"
    if [ -f "$hba" ] && ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
        log "PostgreSQL: trust auth for 127.0.0.1 and ::1 in $hba"
        {
            printf '# added by credit-crm scripts/dev.sh: test machine, loopback only\n'
            printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'
            cat "$hba"
        } >"$hba.new"
        chown --reference="$hba" "$hba.new"
        chmod --reference="$hba" "$hba.new"
        mv "$hba.new" "$hba"
        pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
    fi
    local psql=(runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres -tA)
    if [ "$("${psql[@]}" -c "select 1 from pg_roles where rolname = 'root'")" != 1 ]; then
        "${psql[@]}" -c 'create role root superuser login'
    fi
    if [ "$("${psql[@]}" -c "select 1 from pg_database where datname = 'test'")" != 1 ]; then
        log "PostgreSQL: creating database test"
        "${psql[@]}" -c 'create database test'
    fi
}

ensure_postgres() {
    if port_open "$PG_HOST" "$PG_PORT"; then
        # reachable: if it is a local Debian cluster we manage, make sure `test` exists; else trust it
        if can_manage_services && [ -n "$(pg_version)" ] && command -v psql >/dev/null 2>&1 \
            && ! psql -X -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d test -tAc 'select 1' >/dev/null 2>&1; then
            pg_configure
        fi
        return 0
    fi
    can_manage_services || die "PostgreSQL is not answering on $PG_HOST:$PG_PORT; start it (trust auth, database test) and retry"
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(pg_version)" ]; then
        apt_install postgresql
    fi
    local ver
    ver="$(pg_version)"
    [ -n "$ver" ] || die "postgresql installed but no cluster under /etc/postgresql"
    # Debian picks the next free port for a new cluster when 5432 was busy at install time
    if [ "$(pg_conftool "$ver" main show -s port 2>/dev/null || echo "$PG_PORT")" != "$PG_PORT" ]; then
        log "PostgreSQL $ver: setting port $PG_PORT"
        pg_conftool "$ver" main set port "$PG_PORT"
    fi
    log "starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true # 'already running' is fine
    wait_port "$PG_HOST" "$PG_PORT" 60 PostgreSQL
    pg_configure
}

ensure_rabbitmq() {
    port_open "$PG_HOST" "$MQ_PORT" && return 0
    can_manage_services || die "RabbitMQ is not answering on 127.0.0.1:$MQ_PORT; start it (guest/guest) and retry"
    command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server
    log "starting RabbitMQ"
    # -detached returns at once; the broker takes several seconds to open its port
    rabbitmq-server -detached </dev/null >/dev/null 2>&1 || true
    wait_port 127.0.0.1 "$MQ_PORT" 120 RabbitMQ
}

services() {
    ensure_postgres
    ensure_rabbitmq
    log "PostgreSQL $PG_HOST:$PG_PORT and RabbitMQ 127.0.0.1:$MQ_PORT are up"
}

# --- tests -------------------------------------------------------------------------------------------------
run_tests() {
    setup
    services
    log "ruff check . && ruff format --check ."
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    log "lint-imports (the layers of pyproject.toml's [tool.importlinter])"
    "$VENV/bin/lint-imports"

    local out junit rc=0
    out="$(mktemp -d)"
    junit="$out/junit.xml"
    log "pytest $*"
    # one test process per core (xdist), each test file's tests in one of them (its module fixtures are built
    # once); `-n 0` in the arguments runs everything in one process
    local parallel=(-n auto --dist loadfile)
    case " $* " in *" -n "* | *" -n="* | *" --numprocesses"*) parallel=() ;; esac
    "$VENV/bin/python" -m pytest "${parallel[@]}" --junitxml="$junit" "$@" || rc=$?
    if [ "$rc" -eq 5 ]; then
        rm -rf "$out"
        die "pytest collected no tests (exit 5): that is a failure here"
    fi
    if [ "$rc" -ne 0 ]; then
        rm -rf "$out"
        exit "$rc"
    fi
    # exit 0 but nothing executed (all skipped or deselected) is a failure too
    local ran
    ran="$("$VENV/bin/python" - "$junit" <<'EOF'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
print(sum(int(s.get("tests", 0)) - int(s.get("skipped", 0)) for s in suites))
EOF
)"
    rm -rf "$out"
    # nothing printed after pytest's own summary line on success: CI reads that line
    [ "${ran:-0}" -gt 0 ] || die "pytest ran no test (all skipped or deselected)"
}

# --- lock --------------------------------------------------------------------------------------------------
lock() {
    setup
    log "installing pyproject's dependencies into .venv (already-installed versions are kept)"
    PIP_NO_INPUT=1 "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e '.[dev]'
    "$VENV/bin/python" -m pip check
    {
        # shellcheck disable=SC2016  # backticks are literal text in the header
        printf '# Exact versions credit-crm is tested with; `pip install -e ".[dev]" -c constraints.txt` (scripts/setup.sh).\n'
        printf '# Regenerate after changing dependencies in pyproject.toml: bash scripts/dev.sh lock\n'
        "$VENV/bin/python" -m pip freeze --disable-pip-version-check --exclude-editable \
            | grep -viE '^(credit[-_]crm)([=@ ]|$)'
    } >constraints.txt
    bash "$ROOT/scripts/setup.sh" # refresh the stamp (reinstalls nothing new)
    log "constraints.txt: $(grep -c '==' constraints.txt) pins"
}

cmd="${1:-help}"
[ "$#" -gt 0 ] && shift
case "$cmd" in
    setup) setup ;;
    services) services ;;
    test) run_tests "$@" ;;
    demo) setup && exec "$VENV/bin/crm" demo "$@" ;;
    ui) setup && exec "$VENV/bin/crm" ui "$@" ;;
    lock) lock ;;
    help | -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
    *) die "unknown command '$cmd' (try: bash scripts/dev.sh help)" ;;
esac

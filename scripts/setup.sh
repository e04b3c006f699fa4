#!/usr/bin/env bash
# Set up credit-crm on this machine: Debian runtime packages, the .venv, the project installed into it.
#
#   bash scripts/setup.sh          idempotent; does nothing (in well under a second) when all is in place
#
# Steps, each skipped when already done:
#   1. Debian packages WeasyPrint and the reports need (Pango, HarfBuzz subset, CJK fonts, poppler for
#      tests that look at PDFs), checked with dpkg; `apt-get update` runs only if one is missing.
#   2. .venv, created with the first Python 3.11/3.12 that has venv + ensurepip (python3 first); on Debian
#      with no such Python, apt's python3 + python3-venv are installed.
#   3. `pip install -e '.[dev]' -c constraints.txt`, only when pyproject.toml or constraints.txt changed
#      since the last successful install (hash kept in .venv/.crm-setup-stamp) or crm is not installed.
#
# Environment: CRM_PYTHON=/path/to/python  picks the interpreter for a new .venv.
#              CRM_SKIP_APT=1              skips step 1 (non-Debian machines; install the equivalents yourself).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.crm-setup-stamp"

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- privileges for apt ------------------------------------------------------------------------------------
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (run as root, or install sudo)"
    fi
}

APT_UPDATED=0
apt_install() {
    # apt_install PKG... : install the given Debian packages non-interactively (update once per run).
    [ "$#" -gt 0 ] || return 0
    command -v apt-get >/dev/null 2>&1 || die "missing packages: $* (no apt-get here; install them yourself, then set CRM_SKIP_APT=1)"
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    # stdout to stderr: pick_python's caller captures stdout
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null >&2
}

dpkg_missing() {
    # print the packages among "$@" that dpkg does not report as installed
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$p"
    done
}

# --- 1. Debian packages ------------------------------------------------------------------------------------
APT_PACKAGES=(
    ca-certificates          # pip over HTTPS
    libpango-1.0-0           # WeasyPrint text layout
    libpangoft2-1.0-0        # WeasyPrint fonts
    libharfbuzz-subset0      # WeasyPrint font subsetting
    fonts-noto-cjk           # Chinese text in reports (Noto Sans/Serif CJK SC)
    poppler-utils            # pdftotext/pdfdetach/pdftoppm: the leak scan reads PDFs and their attachments
    chromium                 # the browser test opens every HTML report and the auditors' site (tests only)
    chromium-driver          # ... through Selenium (the driver matches Debian's chromium)
)
if [ "${CRM_SKIP_APT:-0}" != 1 ]; then
    if command -v dpkg-query >/dev/null 2>&1; then
        mapfile -t missing < <(dpkg_missing "${APT_PACKAGES[@]}")
        apt_install "${missing[@]}"
    else
        log "no dpkg here: install Pango, HarfBuzz (subset), Noto CJK fonts and poppler yourself (CRM_SKIP_APT=1 hides this)"
    fi
fi

# --- 2. the virtual environment ----------------------------------------------------------------------------
python_fits() {
    # python_fits EXE : true if EXE is Python >=3.11,<3.13 with venv and ensurepip
    "$1" - <<'EOF' >/dev/null 2>&1
import sys
assert (3, 11) <= sys.version_info[:2] < (3, 13)
import ensurepip, venv  # Debian keeps ensurepip in python3-venv
EOF
}

python_version_ok() {
    "$1" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))' >/dev/null 2>&1
}

pick_python() {
    local c exe
    for c in "${CRM_PYTHON:-}" python3 python3.11 python3.12 /usr/bin/python3; do
        [ -n "$c" ] || continue
        exe="$(command -v "$c" 2>/dev/null)" || continue
        if python_fits "$exe"; then printf '%s\n' "$exe"; return 0; fi
    done
    # Debian: apt's python3 (3.11 on bookworm) with python3-venv.
    if [ "${CRM_SKIP_APT:-0}" != 1 ] && command -v dpkg-query >/dev/null 2>&1; then
        if [ -x /usr/bin/python3 ] && ! python_version_ok /usr/bin/python3; then
            die "/usr/bin/python3 is $(/usr/bin/python3 -V 2>&1); credit-crm needs Python 3.11 or 3.12 (set CRM_PYTHON)"
        fi
        mapfile -t missing < <(dpkg_missing python3 python3-venv)
        apt_install "${missing[@]}"
        if python_fits /usr/bin/python3; then printf '%s\n' /usr/bin/python3; return 0; fi
    fi
    die "no Python 3.11/3.12 with venv + ensurepip found (set CRM_PYTHON=/path/to/python3.11)"
}

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    :
else
    if [ -e "$VENV" ]; then
        # a venv whose interpreter no longer runs (its Python was removed or moved) cannot be repaired in place
        log ".venv exists but its python does not run; recreating it"
    fi
    PY="$(pick_python)"
    log "creating .venv with $PY ($("$PY" -V 2>&1))"
    "$PY" -m venv --clear "$VENV"
    rm -f "$STAMP"
fi

# --- 3. the project ----------------------------------------------------------------------------------------
[ -f constraints.txt ] || die "constraints.txt is missing (bash scripts/dev.sh lock writes it)"
want="$( { "$VENV/bin/python" -c 'import sys; print(sys.version)'; cat pyproject.toml constraints.txt; } | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"

if [ "$want" = "$have" ] && [ -x "$VENV/bin/crm" ]; then
    exit 0
fi

log "installing credit-crm into .venv (pyproject.toml or constraints.txt changed, or first run)"
# --no-input: CI has no stdin. The constraints pin every package to the set the project was tested with.
PIP_NO_INPUT=1 "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
    -e '.[dev]' -c constraints.txt
"$VENV/bin/python" -m pip check >&2 || die "pip check found broken requirements"
printf '%s\n' "$want" >"$STAMP"
log "done: $("$VENV/bin/python" -m pip list --disable-pip-version-check --format=freeze 2>/dev/null | wc -l) packages in .venv"

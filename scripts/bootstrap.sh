#!/usr/bin/env bash
# Installs what the project needs and is missing: Debian packages, then .venv with the
# pinned PyPI packages and the project itself. Idempotent and quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bootstrap: %s\n' "$*" >&2; }

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
    local wanted missing=()
    wanted=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' scripts/debian-packages.txt | awk '{print $1}')
    for pkg in $wanted; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null; then
        say "missing Debian packages: ${missing[*]}, and no apt-get here to install them."
        say "fix: install them with your system's package manager, then run this again."
        exit 1
    fi
    say "installing Debian packages: ${missing[*]}"
    sudo_if_needed apt-get update -qq
    # policy-rc.d-style containers deny service starts; we start every server ourselves.
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python_packages() {
    local python=${PYTHON:-python3.11}
    local stamp=.venv/.airscope-installed
    local want
    want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/airscope ]; then
        return 0
    fi
    if ! command -v "$python" >/dev/null; then
        say "$python not found: airscope needs Python 3.11 (set PYTHON=/path/to/python3.11 to choose one)."
        exit 1
    fi
    [ -x .venv/bin/python ] || { say "creating .venv with $python"; "$python" -m venv .venv; }
    say "installing pinned PyPI packages into .venv (requirements.lock)"
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
    .venv/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
    echo "$want" > "$stamp"
}

install_debian_packages
install_python_packages

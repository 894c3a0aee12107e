#!/usr/bin/env bash
# Makes (or refreshes) the test venv at .venv from tests/python/requirements.txt.
# Idempotent: it reinstalls only when the requirements file changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
req=tests/python/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r "$req"
echo "$want" > "$stamp"

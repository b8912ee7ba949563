#!/bin/sh
# Executable Ansible inventory: `ansible-inventory -i inventory/preau.sh --graph`.
# It asks preau for the département from the configured source of truth (NetBox or these files).
here=$(cd "$(dirname "$0")/.." && pwd)
preau=$(command -v preau || echo "$here/.venv/bin/preau")
case "$1" in
  --host) echo '{}' ;;
  *) exec "$preau" inventory script ;;
esac

#!/bin/sh
# Executable Ansible inventory of the twin (the hosts of the last `preau lab up`):
#   ansible-playbook -i inventory/lab.sh playbooks/college.yml --limit clg_0929001j
# The same groups and variables as inventory/preau.sh, reached through podman, so
# inventory/group_vars applies to the twin exactly as to production.
here=$(cd "$(dirname "$0")/.." && pwd)
preau=$(command -v preau || echo "$here/.venv/bin/preau")
case "$1" in
  --host) echo '{}' ;;
  *) exec "$preau" lab inventory --script ;;
esac

# Sourced by preau's scripts: the project's tools first on PATH, podman and Ansible configured
# from the repo (nothing in /etc is touched).
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$repo/.venv/bin:$PATH"
export CONTAINERS_CONF="$repo/lab/containers.conf"
export ANSIBLE_CONFIG="$repo/ansible.cfg"
export COLUMNS=${COLUMNS:-140}
step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }

#!/usr/bin/env bash
# The main job end to end on the local default: a fleet of Debian containers running
# OpenSSH (standing in for EC2 instances) and a moto server (standing in for AWS),
# converged with playbooks/site.yml. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${RDEPLOY_DEMO_HOSTS:-5}
bash tests/fleet/fleet.sh docker
bash tests/fleet/fleet.sh image
bash tests/fleet/fleet.sh up "$N"
bash tests/fleet/fleet.sh moto
cargo build
BIN=target/debug/rdeploy
echo "== inventory"
"$BIN" inventory -i target/fleet/inventory.ini list
echo "== first run"
"$BIN" run playbooks/site.yml -i target/fleet/inventory.ini -i inventory/demo.yml --known-hosts target/fleet/known_hosts
echo "== second run (idempotent: changed=0)"
"$BIN" run playbooks/site.yml -i target/fleet/inventory.ini -i inventory/demo.yml --known-hosts target/fleet/known_hosts

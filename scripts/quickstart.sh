#!/usr/bin/env bash
# The main job end to end on the local default: the seed stack is provisioned against
# the moto AWS emulator on 127.0.0.1 (VPC, subnets, security groups, key pair, 7
# instances with an Elastic IP, an ElastiCache Redis), each instance standing for a
# Debian container running OpenSSH; the dynamic EC2 inventory then drives
# playbooks/site.yml over SSH (nginx web/API servers, Redis wiring from the inventory,
# an nginx proxy with sticky sessions). Everything runs twice: the second time changes
# nothing. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash tests/fleet/fleet.sh docker
bash tests/fleet/fleet.sh image
bash tests/fleet/fleet.sh up 7
bash tests/fleet/fleet.sh moto
cargo build
BIN="$ROOT/target/debug/rdeploy"

export AWS_ENDPOINT_URL=http://127.0.0.1:5055 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1

# Map instances to containers: api_lb=node1, api=node2,3, client=node4,5, web=node6,7.
port() { python3 -c "import json,sys; print(next(h['port'] for h in json.load(open('target/fleet/hosts.json')) if h['name']==sys.argv[1]))" "$1"; }
mkdir -p target/demo
sed -e "s|@PUBKEY@|$ROOT/target/fleet/id_ed25519.pub|" \
    -e "s|@LB_PORTS@|[$(port node1)]|" \
    -e "s|@API_PORTS@|[$(port node2), $(port node3)]|" \
    -e "s|@CLIENT_PORTS@|[$(port node4), $(port node5)]|" \
    -e "s|@WEB_PORTS@|[$(port node6), $(port node7)]|" \
    inventory/local/infra.yml > target/demo/infra.yml

echo "== provision: plan"
"$BIN" provision target/demo/infra.yml --plan
echo "== provision: apply"
"$BIN" provision target/demo/infra.yml --auto-approve
echo "== provision again (no change)"
"$BIN" provision target/demo/infra.yml --auto-approve
echo "== inventory from EC2 tags"
"$BIN" inventory -i inventory/local/aws_ec2.yml list
echo "== converge"
"$BIN" run playbooks/site.yml -i inventory/local/aws_ec2.yml --known-hosts target/fleet/known_hosts --private-key target/fleet/id_ed25519
echo "== converge again (idempotent: changed=0)"
"$BIN" run playbooks/site.yml -i inventory/local/aws_ec2.yml --known-hosts target/fleet/known_hosts --private-key target/fleet/id_ed25519

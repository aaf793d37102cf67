#!/usr/bin/env bash
# The main job end to end on the local default. The realtime app's stack is provisioned
# against the moto AWS emulator on 127.0.0.1 (VPC, subnets, security groups, key pair,
# 7 instances, an Elastic IP, an ElastiCache Redis); each instance stands for a Debian
# container running OpenSSH (tests/fleet/fleet.sh up 7 --docker); the dynamic EC2
# inventory then drives playbooks/site.yml over SSH: Docker and Compose on the app hosts,
# the API as a compose project on two nodes (Redis pub/sub between them), an nginx
# load balancer with sticky websocket sessions in front of them, two clients pushing
# their health through it, and a web console showing them live.
#
# Locally, a Redis container stands in for ElastiCache (the provisioned endpoint's name
# resolves to it on the fleet network) and a registry container (Debian's
# docker-registry, with a login) holds the app's images, built here from the fleet's
# Debian base. Both are the local setup's (tests/fleet/stack.sh), not the product's: the
# same spec, inventory source and playbook run against AWS.
#
# Everything converges twice: the second run changes nothing. Safe to re-run.
#   RDEPLOY_QUICKSTART_SKIP_BUILD=1   use the existing target/debug/rdeploy
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
step() { printf '\n== %s\n' "$*"; }

step "local stand-ins: docker engine, fleet of 7 hosts, moto, Redis, registry, app images"
bash tests/fleet/fleet.sh docker image moto
bash tests/fleet/fleet.sh up 7 --docker
bash tests/fleet/stack.sh services
bash tests/fleet/stack.sh images v1
if [ "${RDEPLOY_QUICKSTART_SKIP_BUILD:-0}" != 1 ]; then cargo build; fi
BIN="$ROOT/target/debug/rdeploy"

export AWS_ENDPOINT_URL=http://127.0.0.1:5055 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
mkdir -p target/demo
bash tests/fleet/stack.sh infra target/demo/infra.yml

step "provision: plan"
"$BIN" provision target/demo/infra.yml --plan
step "provision: apply"
"$BIN" provision target/demo/infra.yml --auto-approve
step "provision again (no change)"
"$BIN" provision target/demo/infra.yml --auto-approve

step "inventory from EC2 tags"
INV=inventory/local/aws_ec2.yml
"$BIN" inventory -i "$INV" list
# The ElastiCache endpoint as the inventory gives it to the playbook; locally its name
# must resolve to the Redis container.
redis_host=$("$BIN" inventory -i "$INV" --json | python3 -c '
import json, sys
hv = json.load(sys.stdin)["_meta"]["hostvars"]
print(next(iter(hv.values()))["redis_endpoints"]["cache"].rsplit(":", 1)[0])')
bash tests/fleet/stack.sh redis-alias "$redis_host"

RUN=("$BIN" run playbooks/site.yml -i "$INV" --known-hosts target/fleet/dnodes/known_hosts
     --private-key target/fleet/id_ed25519)
step "converge"
"${RUN[@]}"
step "converge again (idempotent: changed=0)"
"${RUN[@]}"

port() { # port HOST CONTAINER_PORT
  python3 -c 'import json, sys
h = {x["name"]: x for x in json.load(open("target/fleet/dnodes/hosts.json"))}
print(h[sys.argv[1]]["ports"][sys.argv[2]])' "$1" "$2"
}
LB="http://127.0.0.1:$(port dnode1 80)"
WEB="http://127.0.0.1:$(port dnode6 80)"
step "check"
for i in 1 2 3 4 5 6 7 8 9 10; do   # clients report every 2 s; bounded wait
  clients=$(curl -fsS -m 5 "$LB/clients" || true)
  case "$clients" in *client-1*client-2*) break ;; esac
  sleep 2
done
echo "api node behind the load balancer: $(curl -fsS -m 5 "$LB/node")"
echo "clients seen by the API (from Redis): $clients"
echo
echo "web console: $WEB/"
echo "api (through the load balancer): $LB/"

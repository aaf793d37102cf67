#!/usr/bin/env bash
# Local stand-ins for one environment of examples/monitoring: four Debian containers
# running OpenSSH on the fleet network (monitor-1, app-1, app-2, worker-1), moto, and
# the spec and inventory source that map moto's instances to them. Prints the directory
# holding infra.yml, aws_ec2.yml and known_hosts (the containers' real host keys).
#
#   examples/monitoring/local/up.sh [ENV]        start (idempotent)
#   examples/monitoring/local/up.sh ENV down     remove that environment's containers
#
# MONITORING_PROJECT (default monitoring) names the project; RDEPLOY_FLEET_PREFIX the
# fleet (default rdeploy). The daemons run as their own users: the containers get
# SYS_PTRACE so that `service X status` can see them (see /work/shared/TESTBED.md).
set -euo pipefail
cd "$(dirname "$0")/../../.."
ENV=${1:-main}
PREFIX=${RDEPLOY_FLEET_PREFIX:-rdeploy}
PROJECT=${MONITORING_PROJECT:-monitoring}
NET=$PREFIX-net
HOSTS="monitor-1 app-1 app-2 worker-1"
cname() { printf '%s-mon-%s-%s-%s' "$PREFIX" "$PROJECT" "$ENV" "$1" | tr -c 'A-Za-z0-9_.\n-' '-'; }

if [ "${2:-}" = down ]; then
  for h in $HOSTS; do docker rm -f "$(cname "$h")" >/dev/null 2>&1 || true; done
  exit 0
fi

bash tests/fleet/fleet.sh docker image moto up 1 >&2
IMAGE=$(docker inspect -f '{{.Config.Image}}' "$PREFIX-node1")
OUT=target/monitoring/$PROJECT-$ENV
mkdir -p "$OUT"
: > "$OUT/known_hosts"
declare -A PORT IP
for h in $HOSTS; do
  c=$(cname "$h")
  if ! docker inspect "$c" >/dev/null 2>&1; then
    docker run -d --name "$c" --hostname "$h" --network "$NET" --cap-add SYS_PTRACE \
      -p 127.0.0.1::22 "$IMAGE" \
      sh -c 'mkdir -p /run/sshd && ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -e' >/dev/null
  fi
  docker exec -i "$c" sh -c 'mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys' \
    < target/fleet/id_ed25519.pub
  PORT[$h]=$(docker port "$c" 22/tcp | sed -n 's/^127\.0\.0\.1://p' | head -n1)
  IP[$h]=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$c")
  for _ in $(seq 1 50); do   # sshd answers within a few seconds; bounded
    if keys=$(ssh-keyscan -T 2 -p "${PORT[$h]}" 127.0.0.1 2>/dev/null) && [ -n "$keys" ]; then
      printf '%s\n' "$keys" >> "$OUT/known_hosts"
      break
    fi
    sleep 0.2
  done
done
q() { printf "'%s'" "$1"; }
sed -e "s|@PROJECT@|$PROJECT|" \
    -e "s|@PUBKEY@|$(pwd)/target/fleet/id_ed25519.pub|" \
    -e "s|@MONITOR_PORTS@|[${PORT[monitor-1]}]|" \
    -e "s|@APP_PORTS@|[${PORT[app-1]}, ${PORT[app-2]}]|" \
    -e "s|@WORKER_PORTS@|[${PORT[worker-1]}]|" \
    -e "s|@MONITOR_IPS@|[$(q "${IP[monitor-1]}")]|" \
    -e "s|@APP_IPS@|[$(q "${IP[app-1]}"), $(q "${IP[app-2]}")]|" \
    -e "s|@WORKER_IPS@|[$(q "${IP[worker-1]}")]|" \
    examples/monitoring/local/infra.yml > "$OUT/infra.yml"
sed -e "s|@PROJECT@|$PROJECT|" examples/monitoring/local/aws_ec2.yml > "$OUT/aws_ec2.yml"
echo "$OUT"

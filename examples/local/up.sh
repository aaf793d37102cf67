#!/usr/bin/env bash
# Local stand-ins for one environment of an example (examples/EXAMPLE): a Debian
# container running OpenSSH on the fleet network per instance the example's local spec
# launches, moto, and the spec and inventory source that map moto's instances to them.
# Prints the directory holding infra.yml, aws_ec2.yml and known_hosts (the containers'
# real host keys).
#
#   examples/local/up.sh EXAMPLE [ENV]         start (idempotent), ENV default main
#   examples/local/up.sh EXAMPLE ENV down      remove that environment's containers
#
# The example provides local/hosts ("GROUP COUNT" lines), local/infra.yml and
# local/aws_ec2.yml with @PROJECT@, @PUBKEY@, @<GROUP>_PORTS@ and @<GROUP>_IPS@
# placeholders. EXAMPLE_PROJECT (default: the example's name) names the project;
# RDEPLOY_FLEET_PREFIX the fleet (default rdeploy). Daemons run as their own users: the
# containers get SYS_PTRACE so that `service X status` can see them (TESTBED.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
EXAMPLE=${1:?usage: examples/local/up.sh EXAMPLE [ENV] [down]}
ENV=${2:-main}
EX=examples/$EXAMPLE
[ -f "$EX/local/hosts" ] || { echo "no $EX/local/hosts" >&2; exit 1; }
PREFIX=${RDEPLOY_FLEET_PREFIX:-rdeploy}
PROJECT=${EXAMPLE_PROJECT:-$EXAMPLE}
NET=$PREFIX-net
cname() { printf '%s-%s-%s-%s-%s' "$PREFIX" "$EXAMPLE" "$PROJECT" "$ENV" "$1" | tr -c 'A-Za-z0-9_.\n-' '-'; }
hosts() { while read -r g n; do [ -n "$g" ] || continue; for i in $(seq 1 "$n"); do echo "$g-$i"; done; done < "$EX/local/hosts"; }

if [ "${3:-}" = down ]; then
  for h in $(hosts); do docker rm -f "$(cname "$h")" >/dev/null 2>&1 || true; done
  exit 0
fi

# The fleet's engine, image and moto (never `up`: that would rewrite the running fleet's
# inventory and known_hosts); the key and network the fleet uses.
bash tests/fleet/fleet.sh docker image moto >&2
IMAGE=$(bash tests/fleet/fleet.sh image-tag)
mkdir -p target/fleet
[ -f target/fleet/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -C rdeploy-fleet -f target/fleet/id_ed25519
docker network inspect "$NET" >/dev/null 2>&1 || docker network create "$NET" >/dev/null
OUT=target/examples/$EXAMPLE-$PROJECT-$ENV
mkdir -p "$OUT"
: > "$OUT/known_hosts"
declare -A PORT IP
for h in $(hosts); do
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
subst=(-e "s|@PROJECT@|$PROJECT|g" -e "s|@PUBKEY@|$(pwd)/target/fleet/id_ed25519.pub|g")
while read -r g n; do
  [ -n "$g" ] || continue
  ports="" ips=""
  for i in $(seq 1 "$n"); do
    ports="$ports${ports:+, }${PORT[$g-$i]}"
    ips="$ips${ips:+, }'${IP[$g-$i]}'"
  done
  G=$(printf '%s' "$g" | tr 'a-z-' 'A-Z_')
  subst+=(-e "s|@${G}_PORTS@|[$ports]|g" -e "s|@${G}_IPS@|[$ips]|g")
done < "$EX/local/hosts"
# An example whose spec writes DNS records gets the zone it expects (local/zone) in moto,
# standing in for the hosted zone the user already owns.
if [ -f "$EX/local/zone" ]; then
  ZONE=$(sed "${subst[@]}" "$EX/local/zone" | tr -d '[:space:]')
  subst+=(-e "s|@ZONE@|$ZONE|g")
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \
    /opt/rdeploy-moto/bin/python3 - "$ZONE" "http://127.0.0.1:${RDEPLOY_MOTO_PORT:-5055}" <<'PY' >&2
import sys, boto3
zone, endpoint = sys.argv[1], sys.argv[2]
r53 = boto3.client("route53", endpoint_url=endpoint)
names = [z["Name"].rstrip(".") for z in r53.list_hosted_zones()["HostedZones"]]
if zone not in names:
    r53.create_hosted_zone(Name=zone, CallerReference="rdeploy-example-" + zone)
PY
fi
sed "${subst[@]}" "$EX/local/infra.yml" > "$OUT/infra.yml"
sed "${subst[@]}" "$EX/local/aws_ec2.yml" > "$OUT/aws_ec2.yml"
echo "$OUT"

#!/usr/bin/env bash
# The local stand-ins for what AWS and a registry give the realtime stack, on the
# docker-capable fleet's network (rdeploy-stack, see fleet.sh `up N --docker`):
#
#   services            a real Redis (stands in for ElastiCache) and a real registry
#                       (Debian's docker-registry, distribution 2.8) in containers;
#                       the registry is `registry:5000` for the hosts and
#                       127.0.0.1:<port> for this machine (target/fleet/stack.json);
#                       it wants a login: user `deploy`, password in
#                       target/fleet/registry/password (made here, never printed)
#   images TAG          build the api, client and web images at version TAG from the
#                       fleet's Debian base and push them to the registry
#   image APP TAG [--unhealthy]
#                       one image; --unhealthy builds a release whose /health fails
#   infra OUT           write the local seed-stack spec (inventory/local/infra.yml) to
#                       OUT with the docker-capable fleet's SSH ports and addresses
#                       (api_lb=dnode1, api=dnode2,3, client=dnode4,5, web=dnode6,7)
#   redis-alias NAME    make NAME (the provisioned ElastiCache endpoint's host name)
#                       resolve to the local Redis on the stack network
#   down                remove the service containers
#
# Nothing here is product code: it is the local setup that lets the same playbook that
# runs against AWS run on containers. Every wait loop is bounded.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
FLEET_DIR="$REPO_ROOT/target/fleet"
APP_DIR="$REPO_ROOT/examples/realtime/app"
NET=rdeploy-stack
SUBNET=10.199.5.0/24
REDIS_IP=10.199.5.250
REGISTRY_IP=10.199.5.251
REDIS=rdeploy-stack-redis
REGISTRY=rdeploy-stack-registry
REGISTRY_USER=deploy

log() { printf '[stack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

base_image() { bash "$SCRIPT_DIR/fleet.sh" image >&2; echo rdeploy-fleet:latest; }

# service_image NAME PACKAGES...: an image with Debian packages on the fleet base,
# tagged by a hash of its recipe (built once)
service_image() {
  local name=$1; shift
  local base tag
  base="$(base_image)"
  tag="$name:$(printf '%s %s' "$(docker image inspect -f '{{.Id}}' "$base")" "$*" | sha256sum | cut -c1-12)"
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    log "building $tag ($*)"
    printf 'FROM %s\nRUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends %s && rm -rf /var/lib/apt/lists/*\n' \
      "$base" "$*" | docker build -q -t "$tag" - >/dev/null
  fi
  echo "$tag"
}

running() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null || true)" = true ]; }

cmd_services() {
  bash "$SCRIPT_DIR/fleet.sh" docker
  docker network inspect "$NET" >/dev/null 2>&1 || docker network create --subnet "$SUBNET" "$NET" >/dev/null
  local img
  if ! running "$REDIS"; then
    docker rm -f "$REDIS" >/dev/null 2>&1 || true
    img="$(service_image rdeploy-redis redis-server)"
    docker run -d --name "$REDIS" --network "$NET" --ip "$REDIS_IP" --network-alias redis \
      --label rdeploy-fleet=1 "$img" \
      redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no >/dev/null
    log "redis on $REDIS_IP:6379"
  fi
  # A registry started from another checkout has another password: start ours.
  if running "$REGISTRY" && ! docker inspect -f '{{range .Mounts}}{{.Source}} {{end}}' "$REGISTRY" \
      | grep -q "$FLEET_DIR/registry/htpasswd"; then
    log "the running registry belongs to another checkout: replacing it"
    docker rm -f "$REGISTRY" >/dev/null
  fi
  if ! running "$REGISTRY" || [ ! -s "$FLEET_DIR/registry/password" ]; then
    docker rm -f "$REGISTRY" >/dev/null 2>&1 || true
    img="$(service_image rdeploy-registry docker-registry apache2-utils)"
    # a registry that wants a login (htpasswd, bcrypt), like a private registry does
    mkdir -p "$FLEET_DIR/registry"
    [ -s "$FLEET_DIR/registry/password" ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$FLEET_DIR/registry/password"
    chmod 600 "$FLEET_DIR/registry/password"
    docker run --rm -i "$img" htpasswd -Bin "$REGISTRY_USER" <"$FLEET_DIR/registry/password" >"$FLEET_DIR/registry/htpasswd"
    cat >"$FLEET_DIR/registry/config.yml" <<'EOF'
version: 0.1
storage:
  filesystem: {rootdirectory: /var/lib/docker-registry}
  delete: {enabled: true}
http:
  addr: :5000
auth:
  htpasswd: {realm: rdeploy-stack, path: /auth/htpasswd}
EOF
    docker run -d --name "$REGISTRY" --network "$NET" --ip "$REGISTRY_IP" --network-alias registry \
      --label rdeploy-fleet=1 -p 127.0.0.1::5000 \
      -v "$FLEET_DIR/registry/htpasswd:/auth/htpasswd:ro" -v "$FLEET_DIR/registry/config.yml:/etc/registry.yml:ro" \
      "$img" docker-registry serve /etc/registry.yml >/dev/null
  fi
  local port i
  port="$(docker port "$REGISTRY" 5000/tcp | grep '^127\.0\.0\.1:' | head -n 1)"
  port="${port#127.0.0.1:}"
  for i in $(seq 1 60); do   # at most ~30 s
    # 401 without credentials is the answer of a live registry that wants a login
    [ "$(curl -sS -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" 2>/dev/null)" = 401 ] && break
    [ "$i" = 60 ] && die "the registry did not answer on 127.0.0.1:$port"
    sleep 0.5
  done
  for i in $(seq 1 60); do
    docker exec "$REDIS" redis-cli ping 2>/dev/null | grep -q PONG && break
    [ "$i" = 60 ] && die "redis did not answer"
    sleep 0.5
  done
  mkdir -p "$FLEET_DIR"
  docker login -u "$REGISTRY_USER" --password-stdin "127.0.0.1:$port" <"$FLEET_DIR/registry/password" >/dev/null
  printf '{"registry": "registry:5000", "registry_local": "127.0.0.1:%s", "registry_user": "%s", "redis_ip": "%s"}\n' \
    "$port" "$REGISTRY_USER" "$REDIS_IP" >"$FLEET_DIR/stack.json.tmp"
  mv -f "$FLEET_DIR/stack.json.tmp" "$FLEET_DIR/stack.json"
  log "registry: registry:5000 for the hosts, 127.0.0.1:$port here"
}

registry_local() {
  [ -f "$FLEET_DIR/stack.json" ] || cmd_services
  sed -n 's/.*"registry_local": "\([^"]*\)".*/\1/p' "$FLEET_DIR/stack.json"
}

# cmd_image APP TAG [--unhealthy]
cmd_image() {
  local app=$1 tag=$2 healthy=1 reg base
  [ "${3:-}" = --unhealthy ] && healthy=0
  case "$app" in api|client|web) ;; *) die "image: APP is api, client or web (got '$app')" ;; esac
  [[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "image: bad tag '$tag'"
  reg="$(registry_local)"
  base="$(base_image)"
  docker build -q --build-arg BASE="$base" --build-arg APP="$app" --build-arg VERSION="$tag" \
    --build-arg HEALTHY="$healthy" -t "$reg/realtime/$app:$tag" "$APP_DIR" >/dev/null 2>"$FLEET_DIR/build-$app.log" \
    || { cat "$FLEET_DIR/build-$app.log" >&2; die "building $app:$tag failed"; }
  docker push -q "$reg/realtime/$app:$tag" >/dev/null
  log "pushed registry:5000/realtime/$app:$tag$([ "$healthy" = 0 ] && echo ' (unhealthy release)')"
}

cmd_redis_alias() {
  local name=$1
  [[ "$name" =~ ^[A-Za-z0-9.-]+$ ]] || die "redis-alias: bad host name '$name'"
  running "$REDIS" || cmd_services
  if docker inspect -f '{{json .NetworkSettings.Networks}}' "$REDIS" | grep -q "\"$name\""; then return 0; fi
  docker network disconnect "$NET" "$REDIS" >/dev/null
  docker network connect --ip "$REDIS_IP" --alias redis --alias "$name" "$NET" "$REDIS" >/dev/null
  log "$name -> the local Redis ($REDIS_IP)"
}

cmd_infra() {
  local out=$1 hosts="$FLEET_DIR/dnodes/hosts.json"
  [ -f "$hosts" ] || die "infra: no $hosts (run: tests/fleet/fleet.sh up 7 --docker)"
  python3 - "$REPO_ROOT/inventory/local/infra.yml" "$hosts" "$FLEET_DIR/id_ed25519.pub" "$out" <<'EOF'
import json, sys
spec, hosts, pub, out = sys.argv[1:]
h = {x["name"]: x for x in json.load(open(hosts))}
roles = {"LB": ["dnode1"], "API": ["dnode2", "dnode3"], "CLIENT": ["dnode4", "dnode5"], "WEB": ["dnode6", "dnode7"]}
text = open(spec).read().replace("@PUBKEY@", pub)
for role, names in roles.items():
    missing = [n for n in names if n not in h]
    if missing:
        sys.exit(f"infra: the fleet has no {', '.join(missing)} (run: tests/fleet/fleet.sh up 7 --docker)")
    text = text.replace(f"@{role}_PORTS@", json.dumps([h[n]["port"] for n in names]))
    text = text.replace(f"@{role}_IPS@", json.dumps([h[n]["ip"] for n in names]).replace('"', "'"))
open(out + ".tmp", "w").write(text)
EOF
  mv -f "$out.tmp" "$out"
}

main() {
  [ $# -gt 0 ] || { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
  case "$1" in
    services) cmd_services ;;
    images) [ $# -ge 2 ] || die "usage: images TAG"; cmd_services; for a in api client web; do cmd_image "$a" "$2"; done ;;
    image) [ $# -ge 3 ] || die "usage: image APP TAG [--unhealthy]"; cmd_image "$2" "$3" "${4:-}" ;;
    infra) [ $# -ge 2 ] || die "usage: infra OUT"; cmd_infra "$2" ;;
    redis-alias) [ $# -ge 2 ] || die "usage: redis-alias NAME"; cmd_redis_alias "$2" ;;
    down) docker rm -f "$REDIS" "$REGISTRY" >/dev/null 2>&1 || true ;;
    *) die "unknown subcommand '$1'" ;;
  esac
}

main "$@"

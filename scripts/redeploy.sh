#!/usr/bin/env bash
# What the CI job runs to redeploy one component of the realtime app with a new image:
#
#   scripts/redeploy.sh COMPONENT TAG [EXTRA rdeploy run ARGS...]
#
# COMPONENT is api, client or web; its image <registry>/realtime/COMPONENT:TAG must be
# in the registry already (the CI job builds and pushes it first). The hosts of that
# component only (--limit tag_Name_COMPONENT), its tasks only (--tags COMPONENT), the new
# tag as an extra variable. The API play is rolling (serial: 1) with a health gate: a
# node whose new version fails its health check stops the rollout, the other nodes keep
# the old version, and this script exits 2.
#
# The run's JSON events are kept as the job's artifact:
#   $ARTIFACT_DIR/redeploy-COMPONENT-TAG.jsonl   (default ARTIFACT_DIR=target/redeploy)
# Environment: RDEPLOY (the binary, default rdeploy on PATH or target/debug/rdeploy),
#   INVENTORY (default inventory/aws_ec2.yml), PLAYBOOK (default playbooks/site.yml).
# Exit status: rdeploy's (0 ok, 2 a host failed, 4 unreachable, 1 bad input).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 1; }
[ $# -ge 2 ] || usage
component=$1 tag=$2
shift 2
case "$component" in api|client|web) ;; *) echo "redeploy: COMPONENT must be api, client or web (got '$component')" >&2; exit 1 ;; esac
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || { echo "redeploy: '$tag' is not a valid image tag" >&2; exit 1; }

if [ -z "${RDEPLOY:-}" ]; then
  if command -v rdeploy >/dev/null 2>&1; then RDEPLOY=rdeploy; else RDEPLOY=target/debug/rdeploy; fi
fi
INVENTORY=${INVENTORY:-inventory/aws_ec2.yml}
PLAYBOOK=${PLAYBOOK:-playbooks/site.yml}
ARTIFACT_DIR=${ARTIFACT_DIR:-target/redeploy}
mkdir -p "$ARTIFACT_DIR"
artifact="$ARTIFACT_DIR/redeploy-$component-$tag.jsonl"

echo "redeploy: $component -> $tag on tag_Name_$component (events: $artifact)" >&2
set +e
"$RDEPLOY" run "$PLAYBOOK" -i "$INVENTORY" \
  --limit "tag_Name_$component" --tags "$component" \
  -e "${component}_image_tag=$tag" --output json "$@" >"$artifact"
rc=$?
set -e
# one line per host from the recap event, for the job's log
grep '"recap"' "$artifact" | tail -n 1 >&2 || true
case $rc in
  0) echo "redeploy: $component is on $tag" >&2 ;;
  2) echo "redeploy: FAILED: a node failed (health gate); the rollout stopped, the remaining nodes keep their version" >&2 ;;
  *) echo "redeploy: rdeploy exited $rc" >&2 ;;
esac
exit $rc

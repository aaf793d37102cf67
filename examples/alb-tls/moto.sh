#!/bin/sh
# moto only (tests/fleet/fleet.sh moto): moto's ELBv2 checks that an HTTPS listener's
# certificate exists in its ACM, so this requests one for demo.example.com and writes
# the spec with its ARN to ${OUT:-/tmp/alb-tls.yml}. Source it to get the endpoint too:
#   . examples/alb-tls/moto.sh
export AWS_ENDPOINT_URL=http://127.0.0.1:5055 AWS_ACCESS_KEY_ID=testing \
  AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
py=/opt/rdeploy-moto/bin/python
[ -x "$py" ] || py=/opt/moto-venv/bin/python
arn=$("$py" -c "import boto3; print(boto3.client('acm', endpoint_url='$AWS_ENDPOINT_URL', region_name='us-east-1').request_certificate(DomainName='demo.example.com')['CertificateArn'])") || return 1 2>/dev/null || exit 1
here=$(dirname "$0"); [ -f "$here/infra.yml" ] || here=examples/alb-tls
sed "s#arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000#$arn#" \
  "$here/infra.yml" > "${OUT:-/tmp/alb-tls.yml}"
echo "certificate $arn -> ${OUT:-/tmp/alb-tls.yml}"

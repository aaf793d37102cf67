"""pyinfra 3.x equivalent of bench/workload/site.yml (same 20 steps, same order).

Run: pyinfra INVENTORY.py bench/workload/pyinfra_deploy.py -y --parallel N
pyinfra gathers no facts beyond the ones its operations need, like
`gather_facts: false` in the playbook.

Differences that follow from how pyinfra works (documented in docs/BENCHMARKS.md):
- Ansible's `creates=` (steps 11-13) becomes a check of a File/Directory fact while
  the deploy is planned: the same effect, no command runs when the path exists.
- Step 18 (`stat`) is a fact, not an operation; steps 19-20 are `server.shell`
  operations, which pyinfra always runs (and always counts as changes), like the
  `changed_when: false` commands of the playbook always run.
"""

import os
from io import StringIO

from pyinfra import host
from pyinfra.facts.files import Directory, File
from pyinfra.operations import files, server

BENCH_ROOT = "/opt/bench"
BENCH_ENV = "benchmark"
BENCH_PORT = 8080
BENCH_WORKERS = ["alpha", "beta", "gamma"]
HERE = os.path.dirname(os.path.abspath(__file__))

APP_CONF = """# application settings
listen = 0.0.0.0
port = 8080
log_dir = /opt/bench/logs
data_dir = /opt/bench/data
"""
LIMITS_CONF = """max_connections = 512
max_body_bytes = 1048576
timeout_s = 30
"""
MOTD = "This host is managed by a configuration tool. Local changes will be lost.\n"

files.directory(name="01 bench root directory", path=BENCH_ROOT, mode="755")
files.directory(name="02 conf directory", path=f"{BENCH_ROOT}/conf", mode="750")
files.directory(name="03 data directory", path=f"{BENCH_ROOT}/data", mode="755")
files.directory(name="04 logs directory", path=f"{BENCH_ROOT}/logs", mode="755")

files.put(name="05 application config", src=StringIO(APP_CONF), dest=f"{BENCH_ROOT}/conf/app.conf", mode="644")
files.put(name="06 limits config", src=StringIO(LIMITS_CONF), dest=f"{BENCH_ROOT}/conf/limits.conf", mode="640")
files.put(name="07 message of the day", src=StringIO(MOTD), dest=f"{BENCH_ROOT}/data/motd.txt", mode="644")

files.template(
    name="08 per-node config from a template",
    src=os.path.join(HERE, "templates", "node.conf.j2"),
    dest=f"{BENCH_ROOT}/conf/node.conf",
    mode="644",
    inventory_hostname=host.name,
    bench_env=BENCH_ENV,
    bench_port=BENCH_PORT,
    bench_workers=BENCH_WORKERS,
    # Ansible renders templates with trim_blocks=True; do the same for equal output.
    jinja_env_kwargs={"trim_blocks": True},
)

files.line(name="09 workers setting", path=f"{BENCH_ROOT}/conf/env.conf", line="^workers", replace="workers = 4")
files.line(name="10 feature flag", path=f"{BENCH_ROOT}/conf/env.conf", line="^feature_x = on$")

if not host.get_fact(File, path=f"{BENCH_ROOT}/data/app.conf.orig"):
    server.shell(
        name="11 keep a pristine copy of the application config",
        commands=[f"cp {BENCH_ROOT}/conf/app.conf {BENCH_ROOT}/data/app.conf.orig"],
    )
if not host.get_fact(Directory, path=f"{BENCH_ROOT}/data/cache"):
    server.shell(name="12 cache directory (command)", commands=[f"mkdir {BENCH_ROOT}/data/cache"])
if not host.get_fact(File, path=f"{BENCH_ROOT}/data/seed.txt"):
    server.shell(
        name="13 seed file (shell)",
        commands=[f'echo "seeded {host.name}" > {BENCH_ROOT}/data/seed.txt'],
    )

files.file(name="14 log file exists", path=f"{BENCH_ROOT}/logs/app.log", mode="644")
files.link(name="15 current config link", path=f"{BENCH_ROOT}/current.conf", target=f"{BENCH_ROOT}/conf/app.conf")

server.user(
    name="16 bench service user",
    user="benchuser",
    comment="rdeploy bench user",
    shell="/bin/bash",
    create_home=True,
)
files.directory(
    name="17 shared directory owned by the service user",
    path=f"{BENCH_ROOT}/shared",
    user="benchuser",
    group="benchuser",
    mode="770",
)

# 18: the equivalent of `stat` is a fact read while planning.
node_conf = host.get_fact(File, path=f"{BENCH_ROOT}/conf/node.conf")

server.shell(name="19 report the host name", commands=[f'echo "{host.name} is $(hostname)"'])
server.shell(name="20 check the workers setting", commands=[f"grep -q '^workers = 4' {BENCH_ROOT}/conf/env.conf"])

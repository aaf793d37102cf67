//! The moto stack the provisioning tests share: moto started once (tests/fleet/fleet.sh
//! moto, 127.0.0.1:5055, never reset), a project name of its own per test, a spec in a
//! scratch directory ([`Stack`]) and the look-ups tests make behind rdeploy's back.
#![allow(dead_code)]

use rdeploy::output::{Collect, Event};
use rdeploy::provision::{self, aws::Aws, AwsSettings, Outcome, ProvisionOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

pub const MOTO: &str = "http://127.0.0.1:5055";

/// Starts moto once (fleet.sh is idempotent) and returns settings pointing at it.
pub fn moto() -> AwsSettings {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let root = super::harness::repo_root();
        let out = std::process::Command::new("bash")
            .arg(root.join("tests/fleet/fleet.sh"))
            .arg("moto")
            .current_dir(&root)
            .output()
            .expect("run tests/fleet/fleet.sh moto");
        assert!(
            out.status.success(),
            "fleet.sh moto failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    AwsSettings {
        endpoint_url: Some(MOTO.into()),
        credentials: Some(("testing".into(), "testing".into())),
        profile: None,
    }
}

/// The environment the binary needs to reach moto.
pub fn moto_env() -> Vec<(&'static str, &'static str)> {
    moto();
    vec![
        ("AWS_ENDPOINT_URL", MOTO),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
}

/// A project name no other test (or earlier run) uses: `<tag>-<pid><n><time>`.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000;
    let s = format!("{tag}-{:x}{n}{t:x}", std::process::id() % 4096);
    s.chars()
        .take(24)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// A spec written into a scratch directory (with the fixture's public key beside it).
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub spec: PathBuf,
    pub project: String,
    pub region: String,
}

impl Stack {
    /// From a fixture of tests/fixtures/infra with PROJECT and REGION replaced.
    pub fn fixture(name: &str, tag: &str, region: &str) -> Stack {
        let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
        Stack::from_text(&text, tag, region)
    }

    pub fn from_text(text: &str, tag: &str, region: &str) -> Stack {
        let dir = super::harness::tempdir();
        std::fs::copy(fixtures().join("deploy.pub"), dir.path().join("deploy.pub")).unwrap();
        let project = unique(tag);
        let spec = dir.path().join("infra.yml");
        let s = Stack {
            dir,
            spec,
            project,
            region: region.into(),
        };
        s.write(text);
        s
    }

    /// Rewrites the spec (PROJECT/REGION replaced).
    pub fn write(&self, text: &str) {
        let text = text
            .replace("PROJECT", &self.project)
            .replace("REGION", &self.region);
        std::fs::write(&self.spec, text).unwrap();
    }

    pub fn opts(&self, env: Option<&str>) -> ProvisionOptions {
        ProvisionOptions {
            spec: self.spec.clone(),
            env: env.map(String::from),
            plan_only: false,
            auto_approve: true,
            json: false,
        }
    }

    pub async fn apply(&self, env: Option<&str>) -> (Outcome, Vec<String>) {
        let (r, msgs) = provision_collect(&self.opts(env)).await;
        match r {
            Ok(o) => (o, msgs),
            Err(e) => panic!("provision failed: {e}\n{}", msgs.join("\n")),
        }
    }

    pub async fn plan(&self, env: Option<&str>) -> provision::Plan {
        let mut o = self.opts(env);
        o.plan_only = true;
        provision::plan_with(&o, &Collect::default(), &moto())
            .await
            .expect("plan")
    }

    /// The plan's error (the plan is expected to stop), as the user reads it.
    pub async fn plan_err(&self, env: Option<&str>) -> String {
        let mut o = self.opts(env);
        o.plan_only = true;
        Box::pin(provision::plan_with(&o, &Collect::default(), &moto()))
            .await
            .expect_err("the plan should stop")
            .to_string()
    }

    pub async fn destroy(&self, env: Option<&str>) -> Outcome {
        let c = Collect::default();
        provision::destroy_with(&self.opts(env), &c, &moto())
            .await
            .unwrap_or_else(|e| panic!("destroy failed: {e}\n{}", messages(&c).join("\n")))
    }
}

pub fn fixtures() -> PathBuf {
    super::harness::repo_root().join("tests/fixtures/infra")
}

pub fn messages(c: &Collect) -> Vec<String> {
    c.0.lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Message { msg } => Some(msg.clone()),
            Event::Warning { msg } => Some(format!("WARNING: {msg}")),
            _ => None,
        })
        .collect()
}

/// Provisions with a collecting reporter; returns the outcome and the messages.
pub async fn provision_collect(
    opts: &ProvisionOptions,
) -> (rdeploy::error::Result<Outcome>, Vec<String>) {
    let c = Collect::default();
    let r = provision::provision_with(opts, &c, &moto()).await;
    (r, messages(&c))
}

pub async fn ec2(region: &str) -> aws_sdk_ec2::Client {
    Aws::connect(&moto()).await.ec2(region)
}

/// Live (not terminated) instances of a project: (id, Name, rdeploy:index, env, launch time).
pub async fn live_instances(region: &str, project: &str) -> Vec<(String, String, u32, String)> {
    let c = ec2(region).await;
    let out = c
        .describe_instances()
        .filters(project_filter(project))
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .values("stopped")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut v = vec![];
    for r in out.reservations() {
        for i in r.instances() {
            let tag = |k: &str| {
                i.tags()
                    .iter()
                    .find(|t| t.key() == Some(k))
                    .and_then(|t| t.value())
                    .unwrap_or_default()
                    .to_string()
            };
            v.push((
                i.instance_id().unwrap().to_string(),
                tag("Name"),
                tag("rdeploy:index").parse().unwrap_or(0),
                tag("rdeploy:env"),
            ));
        }
    }
    v.sort_by_key(|a| (a.1.clone(), a.2));
    v
}

/// The EC2 filter on a project's tag (what the tests look for behind rdeploy's back).
pub fn project_filter(project: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name("tag:rdeploy:project")
        .values(project)
        .build()
}

/// Deletes the RDS snapshots a project's destroy left (final snapshots).
pub async fn delete_snapshots(c: &aws_sdk_rds::Client, project: &str) {
    let snaps = c.describe_db_snapshots().send().await.unwrap();
    for x in snaps.db_snapshots().iter().filter(|x| {
        x.db_snapshot_identifier()
            .is_some_and(|n| n.starts_with(project))
    }) {
        c.delete_db_snapshot()
            .db_snapshot_identifier(x.db_snapshot_identifier().unwrap())
            .send()
            .await
            .unwrap();
    }
}

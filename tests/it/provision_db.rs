//! `databases` (RDS PostgreSQL) against the moto server: plan on an empty account, apply,
//! re-apply, in-place changes (class, storage, password), destroy with a final snapshot
//! leaving an untagged look-alike, the endpoint in the outputs and in the EC2 inventory's
//! variables — and the password in no output at all (human, JSON, errors), whether it
//! comes from the environment or from a vault-encrypted vars file.

use super::moto_fixture::{moto, moto_env, Stack};
use rdeploy::provision::aws::Aws;

const REGION: &str = "us-east-1";

async fn rds() -> aws_sdk_rds::Client {
    Aws::connect(&moto()).await.rds(REGION)
}

const SPEC: &str = r#"
project: PROJECT
env: dev
region: REGION
network: {cidr: 10.63.0.0/16, azs: 2, private_subnets: true}
security_groups:
  app: {ingress: [{port: 22, cidr: 10.0.0.0/8}]}
  db: {ingress: [{port: 5432, from: app}]}
instances:
  app:
    type: t3.micro
    ami: {owner: "099720109477", name: "ubuntu/images/hvm-ssd/ubuntu-*-amd64-server-*"}
    security_groups: [app]
databases:
  main:
    engine_version: "16"
    class: CLASS
    storage: STORAGE
    db_name: orders
    username: orders_admin
    password: PASSWORD
    security_groups: [db]
outputs:
  db: "{{ databases.main.endpoint }}"
"#;

fn spec(class: &str, storage: u32, password: &str) -> String {
    SPEC.replace("CLASS", class)
        .replace("STORAGE", &storage.to_string())
        .replace("PASSWORD", password)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_lifecycle() {
    std::env::set_var("RDEPLOY_IT_DB_PW_A", "first-Pa55word-Q7");
    let s = Stack::from_text(
        &spec("db.t3.micro", 20, "{env: RDEPLOY_IT_DB_PW_A}"),
        "db",
        REGION,
    );
    let id = format!("{}-dev-main", s.project);

    let plan = Box::pin(s.plan(None)).await;
    let kinds: Vec<&str> = plan.changes.iter().map(|c| c.resource).collect();
    assert!(
        kinds.contains(&"database") && kinds.contains(&"db-subnet-group"),
        "{kinds:?}"
    );
    let c = rds().await;
    let found = |id: String| {
        let c = c.clone();
        async move {
            c.describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .ok()
                .and_then(|o| o.db_instances().first().cloned())
        }
    };
    assert!(found(id.clone()).await.is_none());

    let (out, msgs) = Box::pin(s.apply(None)).await;
    assert!(out.applied, "{msgs:#?}");
    let db = found(id.clone()).await.expect("the database");
    assert_eq!(db.engine(), Some("postgres"));
    assert!(
        db.engine_version().unwrap().starts_with("16"),
        "{:?}",
        db.engine_version()
    );
    assert_eq!(db.db_instance_class(), Some("db.t3.micro"));
    assert_eq!(db.allocated_storage(), Some(20));
    assert_eq!(db.db_name(), Some("orders"));
    assert_eq!(db.master_username(), Some("orders_admin"));
    let group = db.db_subnet_group().unwrap();
    assert_eq!(
        group.db_subnet_group_name(),
        Some(format!("{}-dev-db", s.project).as_str())
    );
    // The subnet group is made of the private subnets.
    let ec2 = super::moto_fixture::ec2(REGION).await;
    let subnet_ids: Vec<String> = group
        .subnets()
        .iter()
        .map(|x| x.subnet_identifier().unwrap().to_string())
        .collect();
    let subnets = ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnet_ids))
        .send()
        .await
        .unwrap();
    let mut cidrs: Vec<&str> = subnets
        .subnets()
        .iter()
        .map(|x| x.cidr_block().unwrap())
        .collect();
    cidrs.sort();
    assert_eq!(cidrs, vec!["10.63.128.0/24", "10.63.129.0/24"]);
    let sgs = db.vpc_security_groups();
    assert_eq!(sgs.len(), 1);
    let endpoint = format!(
        "{}:{}",
        db.endpoint().unwrap().address().unwrap(),
        db.endpoint().unwrap().port().unwrap()
    );
    assert_eq!(out.outputs["db"], endpoint.as_str());
    let hash = |db: &aws_sdk_rds::types::DbInstance| {
        db.tag_list()
            .iter()
            .find(|t| t.key() == Some("rdeploy:password"))
            .and_then(|t| t.value())
            .unwrap()
            .to_string()
    };
    let h1 = hash(&db);
    assert!(!h1.contains("first-Pa55word-Q7"));
    assert!(rdeploy::provision::db::password_matches(
        "first-Pa55word-Q7",
        &h1
    ));

    // The endpoint as an inventory variable, like the Redis endpoints.
    let inv = format!(
        "plugin: aws_ec2\nregions: [{REGION}]\nfilters:\n  tag:rdeploy:project: {}\n  tag:rdeploy:env: dev\nhostnames: [tag:rdeploy:host]\n",
        s.project
    );
    std::fs::write(s.dir.path().join("aws_ec2.yml"), inv).unwrap();
    let run = super::harness::rdeploy_env(
        s.dir.path(),
        &["inventory", "list", "-i", "aws_ec2.yml", "--json"],
        &moto_env(),
    );
    run.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        doc["_meta"]["hostvars"]["app-1"]["database_endpoints"]["main"],
        endpoint.as_str(),
        "{}",
        run.stdout
    );
    assert_eq!(
        doc["_meta"]["hostvars"]["app-1"]["rdeploy_rds"][&id]["db_name"],
        "orders"
    );

    // Re-apply: nothing.
    let again = Box::pin(s.plan(None)).await;
    assert!(again.is_empty(), "{:#?}", again.changes);

    // In place: class, storage, and a new password (found by its hash).
    std::env::set_var("RDEPLOY_IT_DB_PW_B", "second-Pa55word-Q8");
    s.write(&spec("db.t3.small", 30, "{env: RDEPLOY_IT_DB_PW_B}"));
    let plan = Box::pin(s.plan(None)).await;
    let db_change = plan
        .changes
        .iter()
        .find(|c| c.resource == "database")
        .expect("an update");
    assert_eq!(db_change.action, rdeploy::provision::plan::Action::Update);
    assert!(db_change.details.contains(&"password: changed".to_string()));
    let (out, msgs) = Box::pin(s.apply(None)).await;
    assert!(out.applied, "{msgs:#?}");
    let db = found(id.clone()).await.unwrap();
    assert_eq!(db.db_instance_class(), Some("db.t3.small"));
    assert_eq!(db.allocated_storage(), Some(30));
    let h2 = hash(&db);
    assert!(rdeploy::provision::db::password_matches(
        "second-Pa55word-Q8",
        &h2
    ));
    assert!(Box::pin(s.plan(None)).await.is_empty());

    // Storage never shrinks: the plan says so, at the database's line.
    s.write(&spec("db.t3.small", 25, "{env: RDEPLOY_IT_DB_PW_B}"));
    let err = s.plan_err(None).await;
    assert!(
        err.contains("storage cannot shrink (30 GiB now, the spec says 25)"),
        "{err}"
    );
    s.write(&spec("db.t3.small", 30, "{env: RDEPLOY_IT_DB_PW_B}"));

    // An untagged look-alike in the same account.
    let other = format!("{}-dev-other", s.project);
    c.create_db_instance()
        .db_instance_identifier(&other)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("someone")
        .master_user_password("someone-else-pw1")
        .send()
        .await
        .unwrap();

    let d = Box::pin(s.destroy(None)).await;
    assert!(d.applied);
    assert!(found(id.clone()).await.is_none(), "ours is gone");
    assert!(found(other.clone()).await.is_some(), "the look-alike stays");
    // A final snapshot was taken (the default).
    let snaps = c.describe_db_snapshots().send().await.unwrap();
    let final_snap = snaps
        .db_snapshots()
        .iter()
        .find(|x| {
            x.db_snapshot_identifier()
                .is_some_and(|n| n.starts_with(&format!("{id}-final-")))
        })
        .expect("a final snapshot");
    c.delete_db_snapshot()
        .db_snapshot_identifier(final_snap.db_snapshot_identifier().unwrap())
        .send()
        .await
        .unwrap();
    c.delete_db_instance()
        .db_instance_identifier(&other)
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
}

/// The password never appears: not in the plan (human or JSON), the apply's messages,
/// the outputs, the events, nor an error — from the environment or from a vaulted file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_password_never_appears_in_any_output() {
    let secret = "Zq9-never-shown-PW";
    let s = Stack::from_text(
        &spec("db.t3.micro", 20, "{file: vault.yml, var: db_password}")
            .replace("databases.main.endpoint", "databases.main"),
        "dbpw",
        REGION,
    );
    let dir = s.dir.path();
    std::fs::write(dir.join("pw"), "vault-pass-for-tests\n").unwrap();
    std::fs::write(dir.join("vault.yml"), format!("db_password: {secret}\n")).unwrap();
    let enc = super::harness::rdeploy(
        dir,
        &[
            "vault",
            "encrypt",
            "vault.yml",
            "--vault-password-file",
            "pw",
        ],
    );
    enc.assert_code(0);
    let vaulted = std::fs::read_to_string(dir.join("vault.yml")).unwrap();
    assert!(vaulted.starts_with("$ANSIBLE_VAULT") && !vaulted.contains(secret));

    let mut env = moto_env();
    env.push(("RDEPLOY_IT_DB_PW_ENV", secret));
    let mut seen = String::new();
    for args in [
        vec!["provision", "--plan", "infra.yml"],
        vec!["provision", "--plan", "--output", "json", "infra.yml"],
        vec![
            "provision",
            "--auto-approve",
            "--output",
            "json",
            "infra.yml",
        ],
        vec!["provision", "--auto-approve", "infra.yml"],
    ] {
        let mut a = args.clone();
        a.extend(["--vault-password-file", "pw"]);
        let run = super::harness::rdeploy_env(dir, &a, &env);
        run.assert_code(0);
        seen.push_str(&run.stdout);
        seen.push_str(&run.stderr);
    }
    assert!(seen.contains("database"), "{seen}");
    // The outputs hold the whole database object, and still no password.
    assert!(seen.contains("orders_admin"), "{seen}");

    // Without the vault password: an error, without the secret.
    let run = super::harness::rdeploy_env(dir, &["provision", "--plan", "infra.yml"], &env);
    assert_eq!(run.code, 1, "{}", run.stderr);
    seen.push_str(&run.stdout);
    seen.push_str(&run.stderr);

    // From the environment (a change of password, applied), then a password RDS would
    // refuse: an error that does not quote it.
    s.write(
        &spec("db.t3.micro", 20, "{env: RDEPLOY_IT_DB_PW_ENV}")
            .replace("databases.main.endpoint", "databases.main"),
    );
    for args in [
        vec!["provision", "--plan", "--output", "json", "infra.yml"],
        vec!["provision", "--auto-approve", "infra.yml"],
    ] {
        let run = super::harness::rdeploy_env(dir, &args, &env);
        run.assert_code(0);
        seen.push_str(&run.stdout);
        seen.push_str(&run.stderr);
    }
    let mut bad = env.clone();
    bad.retain(|(k, _)| *k != "RDEPLOY_IT_DB_PW_ENV");
    bad.push(("RDEPLOY_IT_DB_PW_ENV", "short"));
    let run = super::harness::rdeploy_env(dir, &["provision", "--plan", "infra.yml"], &bad);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("8 to 128 printable"), "{}", run.stderr);
    assert!(!run.stderr.contains("short"), "{}", run.stderr);
    let run = super::harness::rdeploy_env(dir, &["destroy", "--auto-approve", "infra.yml"], &env);
    run.assert_code(0);
    seen.push_str(&run.stdout);
    seen.push_str(&run.stderr);

    assert!(!seen.contains(secret), "the password leaked:\n{seen}");
    // Clean up the final snapshot.
    let c = rds().await;
    super::moto_fixture::delete_snapshots(&c, &s.project).await;
}

//! ansible-vault compatibility, both directions, against the real ansible-vault
//! (`/opt/rdeploy-peers/bin/ansible-vault`, made by `tests/fleet/fleet.sh peers`). Plays
//! run on localhost with `connection: local`: no fleet needed.

use super::harness::{rdeploy, rdeploy_env, tempdir};
use std::path::{Path, PathBuf};
use std::process::Command;

const SECRET: &str = "hunter2-vaulted-Zk7";
const INLINE: &str = "inline-s3cret-Qx9";
const GROUP: &str = "group-s3cret-Wm4";

fn ansible_vault() -> PathBuf {
    let p = PathBuf::from("/opt/rdeploy-peers/bin/ansible-vault");
    assert!(
        p.is_file(),
        "{} is missing: run `tests/fleet/fleet.sh peers` (tests/run.sh does)",
        p.display()
    );
    p
}

/// Runs ansible-vault in `dir`; returns stdout, panics on failure.
fn av(dir: &Path, args: &[&str]) -> String {
    let out = av_run(dir, args);
    assert!(
        out.status.success(),
        "ansible-vault {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn av_run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(ansible_vault())
        .args(args)
        .current_dir(dir)
        .env("ANSIBLE_CONFIG", dir.join("no-ansible.cfg"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible-tmp"))
        .output()
        .expect("run ansible-vault")
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn indent(block: &str, n: usize) -> String {
    block
        .lines()
        .map(|l| format!("{}{l}\n", " ".repeat(n)))
        .collect()
}

/// A project whose secrets were all encrypted by ansible-vault: a 1.1 vars file, a 1.2
/// group_vars file (id `prod`), an inline value and a vaulted file copied with `copy`.
fn ansible_project() -> tempfile::TempDir {
    let dir = tempdir();
    let d = dir.path();
    write(d, "pw-default", "default-pass\n");
    write(d, "pw-prod", "prod-pass\n");
    write(d, "secrets.yml", &format!("db_password: {SECRET}\n"));
    av(
        d,
        &[
            "encrypt",
            "--vault-password-file",
            "pw-default",
            "secrets.yml",
        ],
    );
    write(d, "inventory/hosts", "localhost ansible_connection=local\n");
    write(
        d,
        "inventory/group_vars/all.yml",
        &format!("group_secret: {GROUP}\n"),
    );
    av(
        d,
        &[
            "encrypt",
            "--vault-id",
            "prod@pw-prod",
            "inventory/group_vars/all.yml",
        ],
    );
    write(d, "files/app.conf", &format!("token={SECRET}\n"));
    av(
        d,
        &[
            "encrypt",
            "--vault-password-file",
            "pw-default",
            "files/app.conf",
        ],
    );
    let inline = av(
        d,
        &[
            "encrypt_string",
            "--vault-password-file",
            "pw-default",
            INLINE,
        ],
    );
    std::fs::create_dir_all(d.join("out")).unwrap();
    let dest = d.join("out/app.conf");
    write(
        d,
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: no\n  vars_files: [secrets.yml]\n  vars:\n    inline_secret: {}\n{}  tasks:\n\
             \x20   - assert:\n        that:\n          - db_password == '{SECRET}'\n          - inline_secret == '{INLINE}'\n          - group_secret == '{GROUP}'\n\
             \x20   - debug: var=db_password\n\
             \x20   - debug: msg=\"{{{{ inline_secret }}}} and {{{{ group_secret }}}}\"\n\
             \x20   - copy: {{src: files/app.conf, dest: {}}}\n\
             \x20   - command: echo {{{{ db_password }}}}\n      register: echoed\n\
             \x20   - debug: var=echoed\n",
            inline.lines().next().unwrap(),
            indent(&inline.lines().skip(1).collect::<Vec<_>>().join("\n"), 4),
            dest.display()
        ),
    );
    assert!(
        std::fs::read_to_string(d.join("site.yml"))
            .unwrap()
            .contains("inline_secret: !vault |"),
        "the encrypt_string block is in the playbook"
    );
    dir
}

const BOTH_IDS: &[&str] = &[
    "-i",
    "inventory",
    "--vault-id",
    "default@pw-default",
    "--vault-id",
    "prod@pw-prod",
];

#[test]
fn vault_files_and_values_from_ansible_vault_decrypt_and_never_show() {
    let dir = ansible_project();
    let d = dir.path();
    for extra in [&["-v", "--diff"][..], &["--output", "json"][..]] {
        let mut args = vec!["run", "site.yml"];
        args.extend_from_slice(BOTH_IDS);
        args.extend_from_slice(extra);
        let r = rdeploy(d, &args);
        r.assert_code(0);
        for s in [SECRET, INLINE, GROUP] {
            assert!(
                !r.stdout.contains(s) && !r.stderr.contains(s),
                "{s} leaked ({extra:?}):\n{}\n{}",
                r.stdout,
                r.stderr
            );
        }
        assert!(r.stdout.contains("********"), "{}", r.stdout);
    }
    // copy src of a vaulted file writes it decrypted.
    assert_eq!(
        std::fs::read_to_string(d.join("out/app.conf")).unwrap(),
        format!("token={SECRET}\n")
    );
}

#[test]
fn vault_wrong_or_missing_password_is_one_error_naming_the_file_and_runs_nothing() {
    let dir = ansible_project();
    let d = dir.path();
    write(d, "pw-wrong", "nope\n");
    let marker = d.join("ran");
    let play = format!(
        "- hosts: all\n  gather_facts: no\n  vars_files: [secrets.yml]\n  tasks:\n    - file: {{path: {}, state: touch}}\n",
        marker.display()
    );
    write(d, "touch.yml", &play);
    for pw in [&["--vault-password-file", "pw-wrong"][..], &[][..]] {
        let mut args = vec!["run", "touch.yml", "-i", "inventory"];
        args.extend_from_slice(pw);
        let r = rdeploy(d, &args);
        r.assert_code(1);
        assert!(r.stderr.contains("secrets.yml"), "{}", r.stderr);
        assert!(
            r.stderr.contains("wrong vault password")
                || r.stderr.contains("no vault password was given"),
            "{}",
            r.stderr
        );
        assert!(!r.stdout.contains("TASK"), "{}", r.stdout);
        assert!(!marker.exists(), "a task ran");
    }
    // A group_vars file (loaded with the inventory) and an inline value: same rules.
    let r = rdeploy(
        d,
        &[
            "run",
            "site.yml",
            "-i",
            "inventory",
            "--vault-password-file",
            "pw-default",
        ],
    );
    r.assert_code(1);
    assert!(r.stderr.contains("group_vars/all.yml"), "{}", r.stderr);
    let r = rdeploy(
        d,
        &[
            "run",
            "site.yml",
            "-i",
            "inventory",
            "--vault-password-file",
            "pw-prod",
        ],
    );
    r.assert_code(1);
    assert!(r.stderr.contains("site.yml:"), "{}", r.stderr);
    assert!(r.stderr.contains("!vault value"), "{}", r.stderr);
    assert!(!r.stdout.contains("TASK"), "{}", r.stdout);
}

#[test]
fn vault_passwords_from_ansible_cfg_env_and_scripts() {
    let dir = ansible_project();
    let d = dir.path();
    // ansible.cfg: vault_identity_list with an executable client script for `prod`, and
    // the default password from $ANSIBLE_VAULT_PASSWORD_FILE.
    write(
        d,
        "pass-client.sh",
        "#!/bin/sh\n[ \"$1\" = --vault-id ] && [ \"$2\" = prod ] && echo prod-pass\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            d.join("pass-client.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    write(
        d,
        "ansible.cfg",
        "[defaults]\ninventory = inventory\nvault_identity_list = prod@pass-client.sh\n",
    );
    let r = rdeploy_env(
        d,
        &["run", "site.yml", "--output", "json"],
        &[("ANSIBLE_VAULT_PASSWORD_FILE", "pw-default")],
    );
    r.assert_code(0);
    assert!(!r.stdout.contains(SECRET), "{}", r.stdout);
}

#[test]
fn vault_rdeploy_output_decrypts_with_ansible_vault() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "pw", "rd-pass\n");
    write(d, "pw-prod", "prod-pass\n");
    write(d, "a.yml", "a: 1\n");
    write(d, "b.yml", "b: 2\n");
    rdeploy(
        d,
        &["vault", "encrypt", "--vault-password-file", "pw", "a.yml"],
    )
    .assert_code(0);
    assert!(std::fs::read_to_string(d.join("a.yml"))
        .unwrap()
        .starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    assert_eq!(
        av(d, &["view", "--vault-password-file", "pw", "a.yml"]),
        "a: 1\n"
    );
    rdeploy(
        d,
        &["vault", "encrypt", "--vault-id", "prod@pw-prod", "b.yml"],
    )
    .assert_code(0);
    assert!(std::fs::read_to_string(d.join("b.yml"))
        .unwrap()
        .starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
    assert_eq!(
        av(d, &["view", "--vault-id", "prod@pw-prod", "b.yml"]),
        "b: 2\n"
    );
    // encrypt_string: the block ansible-vault prints, and ansible-vault decrypts it.
    let r = rdeploy(
        d,
        &[
            "vault",
            "encrypt_string",
            "--vault-password-file",
            "pw",
            "--name",
            "token",
            "tok-123",
        ],
    );
    r.assert_code(0);
    assert!(
        r.stdout
            .starts_with("token: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n"),
        "{}",
        r.stdout
    );
    let envelope: String = r
        .stdout
        .lines()
        .skip(1)
        .map(|l| format!("{}\n", l.trim()))
        .collect();
    write(d, "token.vault", &envelope);
    assert_eq!(
        av(
            d,
            &[
                "decrypt",
                "--vault-password-file",
                "pw",
                "--output",
                "-",
                "token.vault"
            ]
        ),
        "tok-123"
    );
    // decrypt and view by rdeploy of its own files.
    let r = rdeploy(
        d,
        &["vault", "view", "--vault-password-file", "pw", "a.yml"],
    );
    r.assert_code(0);
    assert_eq!(r.stdout, "a: 1\n");
    rdeploy(
        d,
        &["vault", "decrypt", "--vault-password-file", "pw", "a.yml"],
    )
    .assert_code(0);
    assert_eq!(std::fs::read_to_string(d.join("a.yml")).unwrap(), "a: 1\n");
}

#[test]
fn vault_rekey_and_edit() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "old", "old-pass\n");
    write(d, "new", "new-pass\n");
    write(d, "s.yml", "s: 1\n");
    av(d, &["encrypt", "--vault-password-file", "old", "s.yml"]);
    let r = rdeploy(
        d,
        &[
            "vault",
            "rekey",
            "--vault-password-file",
            "old",
            "--new-vault-password-file",
            "new",
            "s.yml",
        ],
    );
    r.assert_code(0);
    assert!(r.stderr.contains("Rekey successful"), "{}", r.stderr);
    assert_eq!(
        av(d, &["view", "--vault-password-file", "new", "s.yml"]),
        "s: 1\n"
    );
    assert!(
        !av_run(d, &["view", "--vault-password-file", "old", "s.yml"])
            .status
            .success()
    );
    // Rekey to a labelled id gives a 1.2 envelope.
    rdeploy(
        d,
        &[
            "vault",
            "rekey",
            "--vault-password-file",
            "new",
            "--new-vault-id",
            "prod@old",
            "s.yml",
        ],
    )
    .assert_code(0);
    assert!(std::fs::read_to_string(d.join("s.yml"))
        .unwrap()
        .starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
    assert_eq!(
        av(d, &["view", "--vault-id", "prod@old", "s.yml"]),
        "s: 1\n"
    );
    // edit with a scripted $EDITOR; the result stays encrypted with the same id.
    write(d, "ed.sh", "#!/bin/sh\necho 'more: 2' >> \"$1\"\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join("ed.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let editor = d.join("ed.sh").display().to_string();
    rdeploy_env(
        d,
        &["vault", "edit", "--vault-id", "prod@old", "s.yml"],
        &[("EDITOR", &editor)],
    )
    .assert_code(0);
    assert_eq!(
        av(d, &["view", "--vault-id", "prod@old", "s.yml"]),
        "s: 1\nmore: 2\n"
    );
    // A wrong password: exit 1, the file named, nothing rewritten.
    let before = std::fs::read(d.join("s.yml")).unwrap();
    let r = rdeploy(
        d,
        &["vault", "view", "--vault-password-file", "new", "s.yml"],
    );
    r.assert_code(1);
    assert!(r.stderr.contains("s.yml"), "{}", r.stderr);
    assert_eq!(std::fs::read(d.join("s.yml")).unwrap(), before);
}

#[test]
fn vault_include_vars_and_extra_vars_files() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "pw", "p\n");
    write(d, "inc.yml", &format!("included: {SECRET}\n"));
    write(d, "extra.yml", &format!("from_e: {INLINE}\n"));
    av(
        d,
        &[
            "encrypt",
            "--vault-password-file",
            "pw",
            "inc.yml",
            "extra.yml",
        ],
    );
    write(
        d,
        "site.yml",
        &format!(
            "- hosts: localhost\n  connection: local\n  gather_facts: no\n  tasks:\n\
             \x20   - include_vars: inc.yml\n\
             \x20   - assert: {{that: [\"included == '{SECRET}'\", \"from_e == '{INLINE}'\"]}}\n\
             \x20   - debug: msg=\"{{{{ included }}}} {{{{ from_e }}}}\"\n"
        ),
    );
    let r = rdeploy(
        d,
        &[
            "run",
            "site.yml",
            "--vault-password-file",
            "pw",
            "-e",
            "@extra.yml",
            "-v",
        ],
    );
    r.assert_code(0);
    for s in [SECRET, INLINE] {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "{}",
            r.stdout
        );
    }
    // `-e @vaulted` without a password: exit 1 naming the file, before anything runs.
    let r = rdeploy(d, &["run", "site.yml", "-e", "@extra.yml"]);
    r.assert_code(1);
    assert!(r.stderr.contains("extra.yml"), "{}", r.stderr);
    assert!(!r.stdout.contains("TASK"), "{}", r.stdout);
}

/// Values computed from a vault secret by a filter (`| b64encode`, `| upper`, a hash,
/// `'user:' ~ secret | b64encode` as registry logins do) are masked like the secret.
#[test]
fn vault_values_derived_by_filters_are_masked_too() {
    use base64::Engine as _;
    let dir = tempdir();
    let d = dir.path();
    const S: &str = "Derived-Secret-4471";
    write(d, "pw", "derive-pass\n");
    let block = rdeploy(
        d,
        &[
            "vault",
            "encrypt_string",
            "--vault-password-file",
            "pw",
            "-n",
            "s",
            S,
        ],
    );
    block.assert_code(0);
    write(
        d,
        "site.yml",
        &format!(
            "- hosts: localhost\n  connection: local\n  gather_facts: no\n  vars:\n{}\n  tasks:\n\
             \x20   - debug: {{msg: \"{{{{ s | b64encode }}}} {{{{ s | upper }}}} {{{{ s | lower }}}} {{{{ s | hash('sha256') }}}}\"}}\n\
             \x20   - debug: {{msg: \"{{{{ ('deploy:' ~ s) | b64encode }}}} {{{{ s | reverse }}}} {{{{ s | regex_replace('-', '_') }}}}\"}}\n\
             \x20   - command: echo {{{{ s | b64encode | quote }}}}\n      register: out\n\
             \x20   - debug: var=out.stdout\n\
             \x20   - debug: {{msg: \"plain {{{{ 'not-a-secret' | b64encode }}}}\"}}\n",
            indent(block.stdout.trim_end(), 4)
        ),
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let derived = [
        b64.encode(S),
        S.to_uppercase(),
        S.to_lowercase(),
        {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(S))
        },
        b64.encode(format!("deploy:{S}")),
        S.chars().rev().collect::<String>(),
        S.replace('-', "_"),
    ];
    for extra in [&["-v"][..], &["--output", "json"][..]] {
        let mut args = vec![
            "run",
            "site.yml",
            "-i",
            "localhost,",
            "--vault-password-file",
            "pw",
        ];
        args.extend_from_slice(extra);
        let r = rdeploy(d, &args);
        r.assert_code(0);
        for v in derived.iter().map(String::as_str).chain([S]) {
            assert!(
                !r.stdout.contains(v) && !r.stderr.contains(v),
                "{v} leaked ({extra:?}):\n{}",
                r.stdout
            );
        }
        // a value not derived from a secret is shown
        assert!(
            r.stdout.contains(&b64.encode("not-a-secret")),
            "{}",
            r.stdout
        );
    }
}

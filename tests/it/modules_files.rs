//! File and command modules (command, shell, raw, script, copy, template, file,
//! lineinfile, blockinfile, replace, ini_file, stat, slurp, fetch) against a real fleet
//! container through `docker exec` ([`DockerConn`]), plus the controller-only modules
//! (debug, assert, fail, pause).
//!
//! Each test works under its own directory `/tmp/rdt-<test>` on rdeploy-node4 (wiped
//! first), so tests run in parallel and on reused containers. Every result is checked on
//! the host independently with `docker exec`: content, mode, owner, no temporary files
//! left behind; and each module is run twice (second run: `changed == false`) and in
//! check mode (predicts, changes nothing).

use crate::harness::{docker_out, docker_sh, fleet, DockerConn};
use rdeploy::modules::{registry, Args, ModuleCtx, ModuleError, Outcome, SearchPaths};
use rdeploy::template::Templar;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

/// One test's world: a fleet container, a scratch directory on it, and a local
/// playbook directory (with `files/` and `templates/`) for the controller side.
struct T {
    container: String,
    conn: Arc<DockerConn>,
    /// `/tmp/rdt-<name>` on the host.
    dir: String,
    local: tempfile::TempDir,
    vars: minijinja::Value,
}

fn setup(name: &str) -> T {
    let h = fleet().host("node4").clone();
    let dir = format!("/tmp/rdt-{name}");
    docker_out(&h.container, &format!("rm -rf {dir} && mkdir -p {dir}"));
    let local = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(local.path().join("files")).unwrap();
    std::fs::create_dir_all(local.path().join("templates")).unwrap();
    T {
        conn: Arc::new(DockerConn {
            container: h.container.clone(),
        }),
        container: h.container,
        dir,
        local,
        vars: minijinja::context! { inventory_hostname => "node4", app_port => 8080, users => vec!["ann", "bob"] },
    }
}

impl T {
    fn p(&self, rel: &str) -> String {
        format!("{}/{rel}", self.dir)
    }
    fn sh(&self, script: &str) -> String {
        docker_out(&self.container, script)
    }
    fn put_local(&self, rel: &str, content: &str) {
        let p = self.local.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    async fn run_mode(
        &self,
        module: &str,
        args: Value,
        check: bool,
        diff: bool,
    ) -> Result<Outcome, ModuleError> {
        let m = registry()
            .get(module)
            .unwrap_or_else(|| panic!("module {module} is registered"));
        let templar = Templar::new();
        let search = SearchPaths {
            role_dir: None,
            playbook_dir: self.local.path().to_path_buf(),
        };
        let ctx = ModuleCtx {
            host: "node4",
            conn: self.conn.clone(),
            become_: None,
            environment: &[],
            check_mode: check,
            diff_mode: diff,
            templar: &templar,
            vars: &self.vars,
            search: &search,
            timeout: Some(std::time::Duration::from_secs(60)),
            output: None,
        };
        m.run(
            &ctx,
            &Args::new(args.as_object().expect("args object").clone()),
        )
        .await
    }
    async fn run(&self, module: &str, args: Value) -> Outcome {
        let o = self
            .run_mode(module, args.clone(), false, false)
            .await
            .unwrap_or_else(|e| panic!("{module} {args}: {e}"));
        assert!(
            !o.failed,
            "{module} {args} failed: {:?} {:?}",
            o.msg, o.data
        );
        o
    }
    async fn check(&self, module: &str, args: Value) -> Outcome {
        let o = self
            .run_mode(module, args.clone(), true, false)
            .await
            .unwrap_or_else(|e| panic!("{module} {args}: {e}"));
        assert!(
            !o.failed,
            "{module} {args} failed in check mode: {:?} {:?}",
            o.msg, o.data
        );
        o
    }
    async fn diff(&self, module: &str, args: Value) -> Outcome {
        let o = self
            .run_mode(module, args.clone(), false, true)
            .await
            .unwrap_or_else(|e| panic!("{module} {args}: {e}"));
        assert!(
            !o.failed,
            "{module} {args} failed: {:?} {:?}",
            o.msg, o.data
        );
        o
    }
    /// Runs twice: the first run must change, the second must not.
    async fn converge(&self, module: &str, args: Value) -> Outcome {
        let first = self.run(module, args.clone()).await;
        assert!(
            first.changed,
            "first {module} run should change: {args} -> {:?}",
            first.data
        );
        let second = self.run(module, args.clone()).await;
        assert!(
            !second.changed,
            "second {module} run should not change: {args} -> {:?}",
            second.data
        );
        first
    }
    fn cat(&self, rel: &str) -> String {
        self.sh(&format!("cat {}", self.p(rel)))
    }
    fn mode(&self, rel: &str) -> String {
        self.sh(&format!("stat -c %a {}", self.p(rel)))
    }
    fn owner(&self, rel: &str) -> String {
        self.sh(&format!("stat -c %U:%G {}", self.p(rel)))
    }
    fn exists(&self, rel: &str) -> bool {
        docker_sh(
            &self.container,
            &format!("test -e {} || test -L {}", self.p(rel), self.p(rel)),
        )
        .status
        .success()
    }
    /// No temporary files left anywhere under the test directory.
    fn no_temp_files(&self) {
        let left = self.sh(&format!("find {} -name '.rdeploy*'", self.dir));
        assert_eq!(left, "", "temporary files left behind");
    }
}

fn data_str(o: &Outcome, k: &str) -> String {
    o.data
        .get(k)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------- command, shell, raw

#[tokio::test]
async fn command_runs_argv_without_a_shell() {
    let t = setup("command");
    let o = t
        .run(
            "command",
            json!({"_raw_params": "echo 'a  b' $HOME ~ '$(id)' ;"}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(o.data["rc"], json!(0));
    assert_eq!(data_str(&o, "stdout"), "a  b /root /root $(id) ;");
    assert_eq!(o.data["stdout_lines"], json!(["a  b /root /root $(id) ;"]));
    assert_eq!(
        o.data["cmd"],
        json!(["echo", "a  b", "$HOME", "~", "$(id)", ";"])
    );
    assert!(o.data.contains_key("delta"));

    let o = t
        .run("command", json!({"argv": ["printf", "%s|", "x y", "z"]}))
        .await;
    assert_eq!(data_str(&o, "stdout"), "x y|z|");

    let o = t
        .run("command", json!({"cmd": "cat", "stdin": "from stdin"}))
        .await;
    assert_eq!(data_str(&o, "stdout"), "from stdin");

    let o = t
        .run("command", json!({"_raw_params": "pwd", "chdir": t.dir}))
        .await;
    assert_eq!(data_str(&o, "stdout"), t.dir);

    // A failing command: failed with rc and output kept.
    let o = t
        .run_mode(
            "command",
            json!({"_raw_params": "ls /nonexistent-rdt"}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
    assert_eq!(o.msg.as_deref(), Some("non-zero return code"));
    assert_eq!(o.data["rc"], json!(2));
    assert!(data_str(&o, "stderr").contains("nonexistent-rdt"));

    let o = t
        .run_mode(
            "command",
            json!({"_raw_params": "pwd", "chdir": "/nonexistent-rdt"}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
}

#[tokio::test]
async fn command_creates_and_removes_inside_the_free_form() {
    let t = setup("creates");
    let marker = t.p("made");
    let args = json!({"_raw_params": format!("touch {marker} creates={marker}")});
    let first = t.run("command", args.clone()).await;
    assert!(first.changed);
    let second = t.run("command", args.clone()).await;
    assert!(!second.changed);
    assert_eq!(
        data_str(&second, "stdout"),
        format!("skipped, since {marker} exists")
    );

    // Globs in creates.
    let o = t
        .run(
            "command",
            json!({"_raw_params": "false", "creates": format!("{}/ma*", t.dir)}),
        )
        .await;
    assert!(!o.changed);

    let rm = json!({"_raw_params": format!("rm {marker}"), "removes": marker});
    assert!(t.run("command", rm.clone()).await.changed);
    assert!(!t.exists("made"));
    let o = t.run("command", rm).await;
    assert!(!o.changed);
    assert!(o.msg.unwrap().contains("does not exist"));
}

#[tokio::test]
async fn command_and_shell_in_check_mode() {
    let t = setup("cmdcheck");
    let o = t
        .check(
            "shell",
            json!({"_raw_params": format!("touch {}", t.p("x"))}),
        )
        .await;
    assert!(o.skipped && !o.changed);
    assert!(!t.exists("x"));
    // With creates, check mode predicts.
    let o = t
        .check(
            "command",
            json!({"_raw_params": format!("touch {}", t.p("x")), "creates": t.p("x")}),
        )
        .await;
    assert!(o.changed && !o.skipped);
    assert!(!t.exists("x"));
    t.sh(&format!("touch {}", t.p("x")));
    let o = t
        .check(
            "command",
            json!({"_raw_params": "false", "creates": t.p("x")}),
        )
        .await;
    assert!(!o.changed);
}

#[tokio::test]
async fn shell_uses_a_shell_and_executable() {
    let t = setup("shell");
    let o = t
        .run(
            "shell",
            json!({"_raw_params": "echo one | tr o O; echo err >&2; X=5; echo $X", "chdir": t.dir}),
        )
        .await;
    assert_eq!(data_str(&o, "stdout"), "One\n5");
    assert_eq!(data_str(&o, "stderr"), "err");
    assert_eq!(
        o.data["cmd"],
        json!("echo one | tr o O; echo err >&2; X=5; echo $X")
    );

    let o = t
        .run(
            "shell",
            json!({"_raw_params": "echo ${BASH_VERSION:+bash}", "executable": "/bin/bash"}),
        )
        .await;
    assert_eq!(data_str(&o, "stdout"), "bash");

    // Multi-line script with a special key on its own line.
    let script = format!(
        "for i in 1 2; do\n  echo $i >> {f}\ndone\ncreates={f}",
        f = t.p("n")
    );
    assert!(
        t.run("shell", json!({"_raw_params": script.clone()}))
            .await
            .changed
    );
    assert!(!t.run("shell", json!({"_raw_params": script})).await.changed);
    assert_eq!(t.cat("n"), "1\n2");

    let o = t
        .run_mode("shell", json!({"_raw_params": "exit 3"}), false, false)
        .await
        .unwrap();
    assert!(o.failed);
    assert_eq!(o.data["rc"], json!(3));
}

#[tokio::test]
async fn raw_runs_the_text_itself() {
    let t = setup("raw");
    let o = t
        .run("raw", json!({"_raw_params": "echo raw-$((1+2))"}))
        .await;
    assert!(o.changed);
    assert_eq!(data_str(&o, "stdout").trim(), "raw-3");
    let o = t
        .check("raw", json!({"_raw_params": format!("touch {}", t.p("x"))}))
        .await;
    assert!(o.skipped);
    assert!(!t.exists("x"));
}

#[tokio::test]
async fn script_runs_a_local_file_with_its_interpreter() {
    let t = setup("script");
    t.put_local(
        "files/hello.sh",
        "#!/bin/bash\necho \"args: $1 $2\"\necho \"${BASH_VERSION:+bash}\"\n",
    );
    let o = t
        .run(
            "script",
            json!({"_raw_params": "hello.sh one 'two three'", "chdir": t.dir}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(data_str(&o, "stdout"), "args: one two three\nbash\n");

    let marker = t.p("done");
    t.put_local("files/mk.sh", &format!("touch {marker}\n"));
    let args = json!({"_raw_params": format!("mk.sh creates={marker}")});
    assert!(t.run("script", args.clone()).await.changed);
    assert!(!t.run("script", args).await.changed);
    // Nothing is left in /tmp by the script runs.
    assert_eq!(t.sh("ls -a /tmp | grep -c rdeploy-script || true"), "0");
}

// ---------------------------------------------------------------- copy

/// What a rewritten file keeps when no attribute is asked: the old file's mode, owner
/// and group; a new file gets the umask's mode; only the asked attributes change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewritten_files_keep_their_attributes_unless_asked() {
    let t = setup("copykeep");
    let dest = t.p("keep.conf");
    t.sh(&format!(
        "umask 022; printf old > {dest}; chmod 0604 {dest}; chown deploy:deploy {dest}"
    ));
    let o = t
        .converge("copy", json!({"content": "new\n", "dest": dest}))
        .await;
    assert!(o.changed);
    assert_eq!(t.cat("keep.conf"), "new");
    assert_eq!(
        (t.mode("keep.conf"), t.owner("keep.conf")),
        ("604".into(), "deploy:deploy".into())
    );
    // Only the owner asked: the group stays the old file's.
    let o = t
        .converge(
            "copy",
            json!({"content": "newer\n", "dest": dest, "owner": "root"}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(
        (t.mode("keep.conf"), t.owner("keep.conf")),
        ("604".into(), "root:deploy".into())
    );
    // A numeric mode replaces the old one; a symbolic one applies to it.
    t.converge(
        "copy",
        json!({"content": "3\n", "dest": dest, "mode": "0640"}),
    )
    .await;
    assert_eq!(t.mode("keep.conf"), "640");
    t.converge(
        "copy",
        json!({"content": "4\n", "dest": dest, "mode": "o+r"}),
    )
    .await;
    assert_eq!(
        (t.mode("keep.conf"), t.owner("keep.conf")),
        ("644".into(), "root:deploy".into())
    );
    // A new file: the umask's mode (the fleet's login umask, 022).
    let fresh = t.p("fresh.conf");
    t.converge("copy", json!({"content": "x\n", "dest": fresh}))
        .await;
    assert_eq!(
        (t.mode("fresh.conf"), t.owner("fresh.conf")),
        ("644".into(), "root:root".into())
    );
    t.no_temp_files();
}

#[tokio::test]
async fn copy_content_is_idempotent_atomic_and_sets_attributes() {
    let t = setup("copycontent");
    let dest = t.p("app.conf");
    // YAML 0640 arrives as the integer 416.
    let args = json!({"content": "port=80\n", "dest": dest, "mode": 416, "owner": "deploy", "group": "deploy"});

    let o = t.check("copy", args.clone()).await;
    assert!(o.changed);
    assert!(!t.exists("app.conf"), "check mode wrote the file");

    let o = t.converge("copy", args.clone()).await;
    assert_eq!(t.cat("app.conf"), "port=80");
    assert_eq!(t.mode("app.conf"), "640");
    assert_eq!(t.owner("app.conf"), "deploy:deploy");
    assert_eq!(
        data_str(&o, "checksum"),
        t.sh(&format!("sha1sum < {dest} | cut -d' ' -f1")),
        "sha1 checksum"
    );
    assert_eq!(data_str(&o, "dest"), dest);
    t.no_temp_files();

    // Attribute-only change.
    let mut a2 = args.clone();
    a2["mode"] = json!("0600");
    assert!(t.check("copy", a2.clone()).await.changed);
    assert_eq!(t.mode("app.conf"), "640");
    assert!(t.run("copy", a2.clone()).await.changed);
    assert_eq!(t.mode("app.conf"), "600");

    // Content change in diff mode, with a backup.
    let mut a3 = a2.clone();
    a3["content"] = json!("port=81\n");
    a3["backup"] = json!(true);
    let o = t.diff("copy", a3).await;
    assert!(o.changed);
    assert_eq!(o.diff.len(), 1);
    assert_eq!(o.diff[0].before, "port=80\n");
    assert_eq!(o.diff[0].after, "port=81\n");
    let backup = data_str(&o, "backup_file");
    assert!(
        backup.starts_with(&dest) && backup.ends_with('~'),
        "{backup}"
    );
    assert_eq!(t.sh(&format!("cat '{backup}'")), "port=80");

    // force: no keeps an existing file.
    let o = t
        .run(
            "copy",
            json!({"content": "other", "dest": dest, "force": false}),
        )
        .await;
    assert!(!o.changed);
    assert_eq!(t.cat("app.conf"), "port=81");

    // content into a directory is refused.
    let o = t
        .run_mode(
            "copy",
            json!({"content": "x", "dest": format!("{}/", t.dir)}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
}

#[tokio::test]
async fn copy_src_file_into_directory_dest() {
    let t = setup("copysrc");
    t.put_local("files/motd", "hello\n");
    t.sh(&format!("mkdir -p {}", t.p("etc")));
    // An existing directory as dest: dest/basename.
    let o = t
        .converge("copy", json!({"src": "motd", "dest": t.p("etc")}))
        .await;
    assert_eq!(data_str(&o, "dest"), t.p("etc/motd"));
    assert_eq!(t.cat("etc/motd"), "hello");
    // dest ending with '/'.
    t.converge(
        "copy",
        json!({"src": "motd", "dest": format!("{}/", t.p("etc")), "mode": "u=rw,g=r,o="}),
    )
    .await;
    assert_eq!(t.mode("etc/motd"), "640");
    // Missing parent directory: a clear failure.
    let o = t
        .run_mode(
            "copy",
            json!({"src": "motd", "dest": t.p("nope/motd")}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
    assert!(o.msg.unwrap().contains("does not exist"));
    // Missing local file.
    let e = t
        .run_mode(
            "copy",
            json!({"src": "nothere", "dest": t.p("x")}),
            false,
            false,
        )
        .await;
    assert!(e.is_err());
    t.no_temp_files();
}

#[tokio::test]
async fn copy_directory_trees() {
    let t = setup("copytree");
    t.put_local("files/site/index.html", "<h1>hi</h1>\n");
    t.put_local("files/site/css/app.css", "body{}\n");
    t.put_local("files/site/js/deep/app.js", "x=1\n");
    let args = json!({"src": "site", "dest": t.p("www"), "mode": "0644", "directory_mode": "0750"});
    assert!(t.check("copy", args.clone()).await.changed);
    assert!(!t.exists("www"));
    t.converge("copy", args.clone()).await;
    assert_eq!(t.cat("www/site/index.html"), "<h1>hi</h1>");
    assert_eq!(t.cat("www/site/js/deep/app.js"), "x=1");
    assert_eq!(t.mode("www/site/css/app.css"), "644");
    assert_eq!(t.mode("www/site/js/deep"), "750");

    // One file changed on the host: only it is rewritten.
    t.sh(&format!("echo tampered > {}", t.p("www/site/css/app.css")));
    assert!(t.check("copy", args.clone()).await.changed);
    assert_eq!(t.cat("www/site/css/app.css"), "tampered");
    let o = t.run("copy", args.clone()).await;
    assert!(o.changed);
    assert_eq!(o.data["changed_files"], json!(["css/app.css"]));
    assert_eq!(t.cat("www/site/css/app.css"), "body{}");
    assert!(!t.run("copy", args).await.changed);

    // Trailing slash: the contents.
    t.converge(
        "copy",
        json!({"src": "site/", "dest": t.p("flat"), "owner": "deploy"}),
    )
    .await;
    assert_eq!(t.cat("flat/index.html"), "<h1>hi</h1>");
    assert_eq!(t.owner("flat/css/app.css"), "deploy:root");
    t.no_temp_files();
}

#[tokio::test]
async fn copy_remote_src() {
    let t = setup("copyremote");
    t.sh(&format!("printf 'remote\\n' > {}", t.p("orig")));
    let args = json!({"src": t.p("orig"), "dest": t.p("copy"), "remote_src": true, "mode": "0600"});
    assert!(t.check("copy", args.clone()).await.changed);
    assert!(!t.exists("copy"));
    let o = t.converge("copy", args).await;
    assert_eq!(t.cat("copy"), "remote");
    assert_eq!(t.mode("copy"), "600");
    assert_eq!(
        data_str(&o, "checksum"),
        t.sh(&format!("sha1sum < {} | cut -d' ' -f1", t.p("orig")))
    );
    t.sh(&format!(
        "mkdir -p {d}/tree/sub && echo a > {d}/tree/a && echo b > {d}/tree/sub/b",
        d = t.dir
    ));
    t.converge(
        "copy",
        json!({"src": t.p("tree"), "dest": t.p("mirror"), "remote_src": true}),
    )
    .await;
    assert_eq!(t.cat("mirror/tree/sub/b"), "b");
    t.no_temp_files();
}

// ---------------------------------------------------------------- template

#[tokio::test]
async fn template_renders_with_host_vars() {
    let t = setup("template");
    t.put_local(
        "templates/app.conf.j2",
        "# {{ template_destpath }}\nport={{ app_port }}\n{% for u in users %}\nuser={{ u }}\n{% endfor %}\n",
    );
    let dest = t.p("app.conf");
    let args = json!({"src": "app.conf.j2", "dest": dest, "mode": "0644"});
    assert!(t.check("template", args.clone()).await.changed);
    assert!(!t.exists("app.conf"));
    let o = t.converge("template", args.clone()).await;
    assert_eq!(
        t.cat("app.conf"),
        format!("# {dest}\nport=8080\nuser=ann\nuser=bob")
    );
    assert_eq!(t.mode("app.conf"), "644");
    assert_eq!(
        data_str(&o, "checksum"),
        t.sh(&format!("sha1sum < {dest} | cut -d' ' -f1"))
    );

    // templates/x.j2 spelled out, dest ending in '/', diff mode.
    t.sh(&format!("mkdir -p {}", t.p("d")));
    let o = t
        .diff(
            "template",
            json!({"src": "templates/app.conf.j2", "dest": format!("{}/", t.p("d"))}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(data_str(&o, "dest"), t.p("d/app.conf.j2"));
    assert_eq!(o.diff.len(), 1);
    assert!(o.diff[0].after.contains("user=bob"));
    t.no_temp_files();
}

#[tokio::test]
async fn template_includes_and_whitespace_options() {
    let t = setup("template2");
    t.put_local("templates/part.j2", "included {{ app_port }}\n");
    t.put_local(
        "templates/main.j2",
        "top\n{% include 'part.j2' %}\n    {% if true %}\nx\n    {% endif %}\n",
    );
    t.converge(
        "template",
        json!({"src": "main.j2", "dest": t.p("out"), "lstrip_blocks": true}),
    )
    .await;
    // As ansible-core: the included template's trailing newline is dropped (Jinja's
    // keep_trailing_newline is off) and trim_blocks eats the one after the tag.
    assert_eq!(t.cat("out"), "top\nincluded 8080x");
    t.run("template", json!({"src": "main.j2", "dest": t.p("crlf"), "lstrip_blocks": true, "newline_sequence": "\\r\\n"})).await;
    assert_eq!(
        t.sh(&format!("tr -cd '\\r' < {} | wc -c", t.p("crlf"))),
        "2",
        "every line ends in CR LF"
    );
    assert_eq!(
        t.sh(&format!("tr -d '\\r' < {}", t.p("crlf"))),
        "top\nincluded 8080x"
    );
}

#[tokio::test]
async fn template_errors_name_the_file_and_line() {
    let t = setup("templateerr");
    t.put_local("templates/bad.j2", "line one\n{{ undefined_thing }}\n");
    let o = t
        .run_mode(
            "template",
            json!({"src": "bad.j2", "dest": t.p("x")}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
    let msg = o.msg.unwrap();
    assert!(msg.contains("bad.j2"), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
    assert!(!t.exists("x"));
}

// ---------------------------------------------------------------- file

#[tokio::test]
async fn file_directories_touch_and_absent() {
    let t = setup("file");
    let d = t.p("a/b/c");
    let args = json!({"path": d, "state": "directory", "mode": "0750", "owner": "deploy"});
    assert!(t.check("file", args.clone()).await.changed);
    assert!(!t.exists("a"));
    let o = t.converge("file", args.clone()).await;
    assert_eq!(o.data["state"], json!("directory"));
    assert_eq!(o.data["mode"], json!("0750"));
    // Attributes apply to every directory created, as in Ansible.
    assert_eq!(t.mode("a"), "750");
    assert_eq!(t.mode("a/b/c"), "750");
    assert_eq!(t.owner("a/b"), "deploy:root");

    // Attribute change on an existing directory, in diff mode.
    let o = t
        .diff(
            "file",
            json!({"path": d, "state": "directory", "mode": "0700"}),
        )
        .await;
    assert!(o.changed);
    assert!(o.diff[0].before.contains("mode: 750"), "{:?}", o.diff);
    assert_eq!(t.mode("a/b/c"), "700");
    // Symbolic modes are predicted in check mode too.
    let sym = |m: &str| json!({"path": d, "state": "directory", "mode": m});
    assert!(!t.check("file", sym("u=rwx,go=")).await.changed);
    assert!(t.check("file", sym("g+rx")).await.changed);
    assert_eq!(t.mode("a/b/c"), "700");

    // recurse: owner on the whole tree.
    t.sh(&format!("touch {}/f", d));
    let rec = json!({"path": t.p("a"), "state": "directory", "recurse": true, "owner": "deploypw", "mode": "u+rwX,g-rwx,o-rwx"});
    assert!(t.check("file", rec.clone()).await.changed);
    t.converge("file", rec).await;
    assert_eq!(t.owner("a/b/c/f"), "deploypw:root");
    assert_eq!(t.mode("a/b/c/f"), "600");

    // touch: created, then changed on every run (times updated), unless times are preserved.
    let f = t.p("touched");
    assert!(
        t.check("file", json!({"path": f, "state": "touch"}))
            .await
            .changed
    );
    assert!(!t.exists("touched"));
    assert!(
        t.run("file", json!({"path": f, "state": "touch", "mode": "0600"}))
            .await
            .changed
    );
    assert_eq!(t.mode("touched"), "600");
    assert!(
        t.run("file", json!({"path": f, "state": "touch"}))
            .await
            .changed
    );
    let keep = json!({"path": f, "state": "touch", "modification_time": "preserve", "access_time": "preserve"});
    assert!(!t.run("file", keep).await.changed);
    let at = json!({"path": f, "state": "touch", "modification_time": "202001021530.45", "access_time": "preserve"});
    assert!(t.run("file", at.clone()).await.changed);
    assert!(!t.run("file", at).await.changed);
    assert!(t
        .sh(&format!("date -r {f} +%Y%m%d%H%M.%S"))
        .starts_with("202001021530.45"));

    // state=file on a missing path fails like Ansible.
    let o = t
        .run_mode(
            "file",
            json!({"path": t.p("missing"), "state": "file"}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
    assert!(o.msg.unwrap().contains("is absent, cannot continue"));
    // Attributes only (no state) on an existing file.
    t.converge("file", json!({"path": f, "mode": "0640"})).await;
    assert_eq!(t.mode("touched"), "640");

    // absent
    let gone = json!({"path": t.p("a"), "state": "absent"});
    assert!(t.check("file", gone.clone()).await.changed);
    assert!(t.exists("a"));
    t.converge("file", gone).await;
    assert!(!t.exists("a"));
}

#[tokio::test]
async fn file_links() {
    let t = setup("links");
    t.sh(&format!(
        "echo target > {d}/target && echo other > {d}/other",
        d = t.dir
    ));
    let link = t.p("link");
    let args = json!({"path": link, "src": t.p("target"), "state": "link"});
    assert!(t.check("file", args.clone()).await.changed);
    assert!(!t.exists("link"));
    let o = t.converge("file", args).await;
    assert_eq!(o.data["state"], json!("link"));
    assert_eq!(t.sh(&format!("readlink {link}")), t.p("target"));
    // Retarget.
    t.converge(
        "file",
        json!({"path": link, "src": "other", "state": "link"}),
    )
    .await;
    assert_eq!(t.sh(&format!("readlink {link}")), "other");
    assert_eq!(t.cat("link"), "other");
    // Missing source without force fails; with force it links anyway.
    let o = t
        .run_mode(
            "file",
            json!({"path": t.p("dangling"), "src": "/nope", "state": "link"}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
    t.converge(
        "file",
        json!({"path": t.p("dangling"), "src": "/nope", "state": "link", "force": true}),
    )
    .await;
    // A file in the way needs force.
    let o = t
        .run_mode(
            "file",
            json!({"path": t.p("other"), "src": "target", "state": "link"}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
    assert!(o.msg.unwrap().contains("refusing to convert"));
    // Hard links.
    let hard = json!({"path": t.p("hard"), "src": t.p("target"), "state": "hard"});
    t.converge("file", hard).await;
    assert_eq!(
        t.sh(&format!(
            "stat -c %i {d}/hard {d}/target | uniq | wc -l",
            d = t.dir
        )),
        "1"
    );
    t.no_temp_files();
}

// ---------------------------------------------------------------- lineinfile & co

#[tokio::test]
async fn lineinfile_edits_in_place() {
    let t = setup("lineinfile");
    let f = t.p("sshd_config");
    t.sh(&format!(
        "printf '#PermitRootLogin yes\\nPort 22\\n' > {f} && chmod 600 {f}"
    ));
    let args = json!({"path": f, "regexp": "^#?PermitRootLogin", "line": "PermitRootLogin no"});
    let o = t.check("lineinfile", args.clone()).await;
    assert!(o.changed);
    assert_eq!(t.cat("sshd_config"), "#PermitRootLogin yes\nPort 22");
    let o = t.converge("lineinfile", args).await;
    assert_eq!(o.msg.as_deref(), Some("line replaced"));
    assert_eq!(t.cat("sshd_config"), "PermitRootLogin no\nPort 22");
    assert_eq!(
        t.mode("sshd_config"),
        "600",
        "mode of the edited file is kept"
    );

    // insertafter, diff mode.
    let o = t
        .diff(
            "lineinfile",
            json!({"path": f, "line": "Port 2222", "insertafter": "^Port 22$"}),
        )
        .await;
    assert!(o.changed);
    assert_eq!(o.diff[0].after, "PermitRootLogin no\nPort 22\nPort 2222\n");
    // backrefs
    t.converge(
        "lineinfile",
        json!({"path": f, "regexp": r"^Port (\d+)22$", "line": r"Port \g<1>33", "backrefs": true}),
    )
    .await;
    assert_eq!(
        t.cat("sshd_config"),
        "PermitRootLogin no\nPort 22\nPort 2233"
    );
    // absent
    let o = t
        .converge(
            "lineinfile",
            json!({"path": f, "regexp": "^Port", "state": "absent"}),
        )
        .await;
    assert_eq!(o.data["found"], json!(2));
    assert_eq!(t.cat("sshd_config"), "PermitRootLogin no");
    // create, with parent directories and attributes.
    let n = t.p("new/dir/file");
    t.converge(
        "lineinfile",
        json!({"path": n, "line": "hello", "create": true, "mode": "0640"}),
    )
    .await;
    assert_eq!(t.cat("new/dir/file"), "hello");
    assert_eq!(t.mode("new/dir/file"), "640");
    // Missing file without create.
    let o = t
        .run_mode(
            "lineinfile",
            json!({"path": t.p("nope"), "line": "x"}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
    // Edits through a symlink change the target, not the link.
    t.sh(&format!("ln -s {n} {}", t.p("ln")));
    t.converge("lineinfile", json!({"path": t.p("ln"), "line": "via link"}))
        .await;
    assert_eq!(
        t.sh(&format!("test -L {} && cat {n}", t.p("ln"))),
        "hello\nvia link"
    );
    t.no_temp_files();
}

#[tokio::test]
async fn blockinfile_keeps_a_marked_block() {
    let t = setup("blockinfile");
    let f = t.p("hosts");
    t.sh(&format!("printf '127.0.0.1 localhost\\n' > {f}"));
    let args = json!({"path": f, "block": "10.0.0.1 db\n10.0.0.2 cache\n"});
    assert!(t.check("blockinfile", args.clone()).await.changed);
    t.converge("blockinfile", args).await;
    assert_eq!(
        t.cat("hosts"),
        "127.0.0.1 localhost\n# BEGIN ANSIBLE MANAGED BLOCK\n10.0.0.1 db\n10.0.0.2 cache\n# END ANSIBLE MANAGED BLOCK"
    );
    t.converge(
        "blockinfile",
        json!({"path": f, "block": "10.0.0.3 web", "insertbefore": "BOF"}),
    )
    .await;
    assert_eq!(t.cat("hosts"), "127.0.0.1 localhost\n# BEGIN ANSIBLE MANAGED BLOCK\n10.0.0.3 web\n# END ANSIBLE MANAGED BLOCK");
    let o = t
        .converge("blockinfile", json!({"path": f, "state": "absent"}))
        .await;
    assert_eq!(o.msg.as_deref(), Some("Block removed"));
    assert_eq!(t.cat("hosts"), "127.0.0.1 localhost");
    t.converge(
        "blockinfile",
        json!({"path": t.p("new"), "block": "x", "create": true, "marker": "<!-- {mark} -->"}),
    )
    .await;
    assert_eq!(t.cat("new"), "<!-- BEGIN -->\nx\n<!-- END -->");
    t.no_temp_files();
}

#[tokio::test]
async fn replace_substitutes_everywhere() {
    let t = setup("replace");
    let f = t.p("conf");
    t.sh(&format!(
        "printf 'ListenAddress 1.2.3.4\\nPort 22\\nListenAddress ::1\\n' > {f}"
    ));
    let args =
        json!({"path": f, "regexp": r"^(ListenAddress[ ]+)[^\n]+$", "replace": r"\g<1>0.0.0.0"});
    assert!(t.check("replace", args.clone()).await.changed);
    assert!(t.cat("conf").contains("1.2.3.4"));
    let o = t.converge("replace", args).await;
    assert_eq!(o.msg.as_deref(), Some("2 replacements made"));
    assert_eq!(
        t.cat("conf"),
        "ListenAddress 0.0.0.0\nPort 22\nListenAddress 0.0.0.0"
    );
    t.converge(
        "replace",
        json!({"path": f, "regexp": "0.0.0.0", "replace": "127.0.0.1", "after": "Port 22"}),
    )
    .await;
    assert_eq!(
        t.cat("conf"),
        "ListenAddress 0.0.0.0\nPort 22\nListenAddress 127.0.0.1"
    );
    let o = t
        .run_mode(
            "replace",
            json!({"path": t.p("missing"), "regexp": "x"}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
    t.no_temp_files();
}

#[tokio::test]
async fn ini_file_sets_options() {
    let t = setup("ini");
    let f = t.p("app.ini");
    t.sh(&format!(
        "printf '[main]\\ndebug = true\\n\\n[db]\\nhost = x\\n' > {f}"
    ));
    let args = json!({"path": f, "section": "main", "option": "debug", "value": "false"});
    assert!(t.check("ini_file", args.clone()).await.changed);
    t.converge("ini_file", args).await;
    t.converge(
        "ini_file",
        json!({"path": f, "section": "db", "option": "port", "value": 5432, "mode": "0600"}),
    )
    .await;
    assert_eq!(
        t.cat("app.ini"),
        "[main]\ndebug = false\n\n[db]\nhost = x\nport = 5432"
    );
    assert_eq!(t.mode("app.ini"), "600");
    t.converge(
        "ini_file",
        json!({"path": f, "section": "new", "option": "k", "value": "v", "no_extra_spaces": true}),
    )
    .await;
    assert!(t.cat("app.ini").ends_with("[new]\nk=v"));
    t.converge(
        "ini_file",
        json!({"path": f, "section": "db", "state": "absent"}),
    )
    .await;
    assert!(!t.cat("app.ini").contains("[db]"));
    // create defaults to yes
    t.converge(
        "ini_file",
        json!({"path": t.p("fresh.ini"), "section": "s", "option": "o", "value": "1"}),
    )
    .await;
    assert_eq!(t.cat("fresh.ini"), "[s]\no = 1");
    t.no_temp_files();
}

// ---------------------------------------------------------------- stat, slurp, fetch

#[tokio::test]
async fn stat_slurp_and_fetch() {
    let t = setup("stat");
    let f = t.p("data");
    t.sh(&format!(
        "printf 'hello\\n' > {f} && chmod 640 {f} && chown deploy {f} && ln -s data {}",
        t.p("ln")
    ));
    let o = t.run("stat", json!({"path": f})).await;
    assert!(!o.changed);
    let s = &o.data["stat"];
    assert_eq!(s["exists"], json!(true));
    assert_eq!(s["isreg"], json!(true));
    assert_eq!(s["mode"], json!("0640"));
    assert_eq!(s["pw_name"], json!("deploy"));
    assert_eq!(s["size"], json!(6));
    assert_eq!(
        s["checksum"],
        json!("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    assert!(s["mtime"].as_f64().unwrap() > 0.0);
    let o = t.run("stat", json!({"path": t.p("ln")})).await;
    assert_eq!(o.data["stat"]["islnk"], json!(true));
    assert_eq!(o.data["stat"]["lnk_target"], json!("data"));
    let o = t
        .run(
            "stat",
            json!({"path": t.p("ln"), "follow": true, "checksum_algorithm": "sha256"}),
        )
        .await;
    assert_eq!(o.data["stat"]["isreg"], json!(true));
    assert_eq!(o.data["stat"]["checksum"].as_str().unwrap().len(), 64);
    let o = t.run("stat", json!({"path": t.p("nope")})).await;
    assert_eq!(o.data["stat"], json!({"exists": false}));
    let o = t.run("stat", json!({"path": t.dir})).await;
    assert_eq!(o.data["stat"]["isdir"], json!(true));

    let o = t.run("slurp", json!({"src": f})).await;
    assert_eq!(o.data["content"], json!("aGVsbG8K"));
    assert_eq!(o.data["encoding"], json!("base64"));
    let o = t
        .run_mode("slurp", json!({"src": t.p("nope")}), false, false)
        .await
        .unwrap();
    assert!(o.failed);

    // fetch: dest/<host>/<path>, then flat.
    let out = tempfile::tempdir().unwrap();
    let args = json!({"src": f, "dest": out.path().to_str().unwrap()});
    assert!(t.check("fetch", args.clone()).await.changed);
    let local = out.path().join("node4").join(f.trim_start_matches('/'));
    assert!(!local.exists());
    let o = t.converge("fetch", args).await;
    assert_eq!(std::fs::read_to_string(&local).unwrap(), "hello\n");
    assert_eq!(
        data_str(&o, "checksum"),
        "f572d396fae9206628714fb2ce00f72e94f2258f"
    );
    let flat = format!("{}/", out.path().display());
    t.converge("fetch", json!({"src": f, "dest": flat, "flat": true}))
        .await;
    assert_eq!(
        std::fs::read_to_string(out.path().join("data")).unwrap(),
        "hello\n"
    );
    let o = t
        .run_mode(
            "fetch",
            json!({"src": t.p("nope"), "dest": "x"}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
    let o = t
        .run(
            "fetch",
            json!({"src": t.p("nope"), "dest": "x", "fail_on_missing": false}),
        )
        .await;
    assert!(!o.changed);
    // No leftovers next to the fetched file.
    let names: Vec<_> = std::fs::read_dir(local.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(Path::new(&local).exists());
}

// ---------------------------------------------------------------- controller-only modules

#[tokio::test]
async fn debug_assert_fail_pause() {
    let t = setup("ctl");
    let o = t.run("debug", json!({"msg": "hi"})).await;
    assert_eq!(o.data["msg"], json!("hi"));
    assert!(!o.changed);
    let o = t.run("debug", json!({"var": "app_port"})).await;
    assert_eq!(o.data["app_port"], json!(8080));
    let o = t.run("debug", json!({"var": "users | length"})).await;
    assert_eq!(o.data["users | length"], json!(2));
    let o = t.run("debug", json!({"var": "nope"})).await;
    assert_eq!(o.data["nope"], json!("VARIABLE IS NOT DEFINED!"));
    let o = t.run("debug", json!({"msg": "x", "verbosity": 2})).await;
    assert!(o.skipped);
    let o = t.run("debug", json!({})).await;
    assert_eq!(o.data["msg"], json!("Hello world!"));

    let o = t
        .run(
            "assert",
            json!({"that": ["app_port == 8080", "users | length > 1"], "success_msg": "fine"}),
        )
        .await;
    assert_eq!(o.data["msg"], json!("fine"));
    let o = t
        .run_mode(
            "assert",
            json!({"that": "app_port > 9000", "fail_msg": "too low"}),
            false,
            false,
        )
        .await
        .unwrap();
    assert!(o.failed);
    assert_eq!(o.msg.as_deref(), Some("too low"));
    assert_eq!(o.data["assertion"], json!("app_port > 9000"));
    assert_eq!(o.data["evaluated_to"], json!(false));

    let o = t
        .run_mode("fail", json!({"msg": "stop here"}), false, false)
        .await
        .unwrap();
    assert!(o.failed);
    assert_eq!(o.msg.as_deref(), Some("stop here"));

    let start = std::time::Instant::now();
    let o = t.run("pause", json!({"seconds": 1})).await;
    assert!(start.elapsed() >= std::time::Duration::from_millis(950));
    assert!(!o.changed);
    // A prompt without a duration does not block.
    let start = std::time::Instant::now();
    t.run("pause", json!({"prompt": "Press enter"})).await;
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn tilde_paths_are_the_home_directory() {
    let t = setup("tilde");
    let f = "~/.rdt-tilde-file";
    t.run("file", json!({"path": f, "state": "absent"})).await;
    t.converge("copy", json!({"content": "x", "dest": f})).await;
    assert_eq!(t.sh("cat /root/.rdt-tilde-file"), "x");
    t.converge("lineinfile", json!({"path": f, "line": "y"}))
        .await;
    let o = t.run("stat", json!({"path": f})).await;
    assert_eq!(o.data["stat"]["path"], json!("/root/.rdt-tilde-file"));
    let o = t
        .run("command", json!({"_raw_params": "pwd", "chdir": "~"}))
        .await;
    assert_eq!(data_str(&o, "stdout"), "/root");
    let o = t
        .run(
            "command",
            json!({"_raw_params": "true", "creates": "~/.rdt-tilde-*"}),
        )
        .await;
    assert!(!o.changed);
    t.converge("file", json!({"path": f, "state": "absent"}))
        .await;
}

//! The commands: turns parsed arguments into a validated configuration, loads and checks
//! every input (inventory, playbooks, templates) before touching any host, then runs.
//! `main` only maps the result to an exit status.

use crate::cli::{
    Cli, Command, ConnArgs, ExecArgs, HostKeyChecking, InventoryAction, InventoryArgs, RunArgs,
};
use crate::error::{Error, Result};
use crate::executor::{Executor, RunOptions};
use crate::inventory::Inventory;
use crate::output::{self, Reporter};
use crate::playbook::validate::validate;
use crate::playbook::{loader::Loader, Become, Playbook, Task, TaskKind};
use crate::ssh::HostKeyPolicy;
use crate::template::Templar;
use indexmap::IndexMap;
use minijinja::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Exit statuses (the table is in README.md and `rdeploy --help`).
pub const EXIT_OK: i32 = 0;
/// Bad input (a playbook, inventory, template or spec error) or bad usage.
pub const EXIT_BAD_INPUT: i32 = 1;
/// A task failed on some host.
pub const EXIT_TASK_FAILED: i32 = 2;
/// A cloud API call failed, or the controller could not reach the API endpoint.
pub const EXIT_CLOUD: i32 = 3;
/// Some host was unreachable.
pub const EXIT_UNREACHABLE: i32 = 4;
/// Interrupted (Ctrl-C).
pub const EXIT_INTERRUPTED: i32 = 130;

/// The exit status for an error that ended a command.
pub fn exit_status(e: &Error) -> i32 {
    match e {
        Error::Cloud(_) => EXIT_CLOUD,
        Error::Interrupted => EXIT_INTERRUPTED,
        Error::Source(_) | Error::Sources(_) | Error::Usage(_) | Error::Io { .. } => EXIT_BAD_INPUT,
    }
}

/// Runs a command; returns the process exit status.
pub async fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run(args) => run_playbooks(args).await,
        Command::Exec(args) => run_exec(args).await,
        Command::Inventory(args) => inventory(args).await,
        Command::Provision(a) => {
            // Vault passwords before the spec is read (`!vault` values, vaulted files).
            crate::vault::setup(&a.vault, &crate::config::load(None)?)?;
            let reporter = output::reporter(a.output, 0, false);
            let opts = crate::provision::ProvisionOptions {
                spec: a.spec,
                env: a.env,
                plan_only: a.plan,
                auto_approve: a.auto_approve,
                json: a.output == output::Format::Json,
            };
            crate::provision::provision(&opts, reporter.as_ref()).await
        }
        Command::Destroy(a) => {
            crate::vault::setup(&a.vault, &crate::config::load(None)?)?;
            let reporter = output::reporter(a.output, 0, false);
            let opts = crate::provision::ProvisionOptions {
                spec: a.spec,
                env: a.env,
                plan_only: a.plan,
                auto_approve: a.auto_approve,
                json: a.output == output::Format::Json,
            };
            crate::provision::destroy(&opts, reporter.as_ref()).await
        }
        Command::Env(a) => {
            use crate::cli::EnvAction;
            use crate::provision::envs;
            let settings = crate::provision::AwsSettings::default();
            match a.action {
                EnvAction::List {
                    spec,
                    output: format,
                } => {
                    let reporter = output::reporter(format, 0, false);
                    let opts = envs::EnvOptions {
                        spec,
                        json: format == output::Format::Json,
                    };
                    envs::run_list(&opts, reporter.as_ref(), &settings).await
                }
                EnvAction::Show {
                    env,
                    spec,
                    output: format,
                } => {
                    let reporter = output::reporter(format, 0, false);
                    let opts = envs::EnvOptions {
                        spec,
                        json: format == output::Format::Json,
                    };
                    envs::run_show(&opts, &env, reporter.as_ref(), &settings).await
                }
            }
        }
        Command::Vault(args) => crate::vault::cli::run(args),
        Command::Doc { module } => Ok(crate::doc::run(module.as_deref())),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "rdeploy", &mut std::io::stdout());
            Ok(EXIT_OK)
        }
    }
}

/// Parses `-e` values: `k=v ...`, `@file.yml`, or a JSON/YAML mapping.
pub fn parse_extra_vars(items: &[String]) -> Result<IndexMap<String, Value>> {
    let mut out = IndexMap::new();
    for item in items {
        let item = item.trim();
        if let Some(file) = item.strip_prefix('@') {
            let node = crate::yaml::load_file(Path::new(file))?;
            let m = node
                .as_map()
                .ok_or_else(|| node.error("extra vars file must be a mapping"))?;
            for (k, v) in m {
                out.insert(k.key_string().unwrap_or_default(), v.to_value());
            }
        } else if item.starts_with('{') {
            let node = crate::yaml::load_str(item, Path::new("<extra-vars>"))?;
            let m = node
                .as_map()
                .ok_or_else(|| Error::usage("extra vars must be a mapping"))?;
            for (k, v) in m {
                out.insert(k.key_string().unwrap_or_default(), v.to_value());
            }
        } else {
            for (k, v) in crate::playbook::kv::parse_kv(item, false) {
                if k == "_raw_params" {
                    return Err(Error::usage(format!(
                        "invalid extra vars `{v}`: expected key=value, @file or JSON"
                    )));
                }
                out.insert(k, Value::from(v));
            }
        }
    }
    Ok(out)
}

struct Prepared {
    inv: Inventory,
    opts: RunOptions,
    reporter: Arc<dyn Reporter>,
}

/// What the command line and ansible.cfg give before any file but the config is read.
struct Front {
    cfg: crate::config::ProjectConfig,
    /// Inventory sources (checked to exist, not loaded).
    sources: Vec<PathBuf>,
    extra_vars: IndexMap<String, Value>,
}

fn front(conn: &ConnArgs) -> Result<Front> {
    let cfg = crate::config::load(conn.config.as_deref())?;
    // The vault passwords come before any other input is read (`-e @vaulted.yml`).
    crate::vault::setup(&conn.vault, &cfg)?;
    let mut sources: Vec<PathBuf> = conn.inventory.iter().map(PathBuf::from).collect();
    if sources.is_empty() {
        sources = cfg.inventory.iter().map(PathBuf::from).collect();
    }
    if sources.is_empty() {
        let default = PathBuf::from("/etc/ansible/hosts");
        if default.exists() {
            sources.push(default);
        }
    }
    check_sources_exist(&sources)?;
    let extra_vars = parse_extra_vars(&conn.extra_vars)?;
    Ok(Front {
        cfg,
        sources,
        extra_vars,
    })
}

fn check_sources_exist(sources: &[PathBuf]) -> Result<()> {
    for s in sources {
        if !s.to_string_lossy().contains(',') && !s.exists() {
            return Err(Error::usage(format!(
                "inventory source {} does not exist",
                s.display()
            )));
        }
    }
    Ok(())
}

/// The stages after the playbooks were validated: the run options (pure: flags over
/// ansible.cfg), the become password (a prompt), then the inventory — the first step that
/// runs inventory scripts or calls a cloud API, so it comes after every other input.
async fn prepare(conn: &ConnArgs, front: Front, playbook_dir: Option<&Path>) -> Result<Prepared> {
    let Front {
        cfg,
        sources,
        extra_vars,
    } = front;
    let mut opts = run_options(conn, &cfg, extra_vars)?;
    opts.become_password = become_password(conn)?;
    let inv = Inventory::load(&sources, playbook_dir).await?;
    let reporter: Arc<dyn Reporter> =
        Arc::from(output::reporter(conn.output, conn.verbose, conn.diff));
    Ok(Prepared {
        inv,
        opts,
        reporter,
    })
}

/// `-K`: asks for the become password on the terminal (never echoed).
fn become_password(conn: &ConnArgs) -> Result<Option<String>> {
    if !conn.ask_become_pass {
        return Ok(None);
    }
    rpassword::prompt_password("BECOME password: ")
        .map(Some)
        .map_err(|e| Error::usage(format!("cannot read the become password: {e}")))
}

/// The run's options from the flags over ansible.cfg (no I/O).
fn run_options(
    conn: &ConnArgs,
    cfg: &crate::config::ProjectConfig,
    extra_vars: IndexMap<String, Value>,
) -> Result<RunOptions> {
    let policy = match conn.host_key_checking {
        Some(HostKeyChecking::Strict) => HostKeyPolicy::Strict,
        Some(HostKeyChecking::AcceptNew) => HostKeyPolicy::AcceptNew,
        Some(HostKeyChecking::Off) => HostKeyPolicy::Off,
        None => match cfg.host_key_checking {
            Some(false) => HostKeyPolicy::Off,
            _ => HostKeyPolicy::Strict,
        },
    };
    let become_ = Become {
        become_: if conn.become_ {
            Some(true)
        } else {
            cfg.become_
        }
        .map(crate::playbook::Flag::Const),
        user: conn.become_user.clone().or(cfg.become_user.clone()),
        method: conn.become_method.clone().or(cfg.become_method.clone()),
        flags: None,
    };
    let forks = conn.forks.or(cfg.forks).unwrap_or(50);
    if forks == 0 {
        return Err(Error::bad_setting(
            "--forks",
            "0",
            "--forks must be at least 1",
        ));
    }
    Ok(RunOptions {
        check: conn.check,
        diff: conn.diff,
        forks,
        limit: conn.limit.clone(),
        extra_vars,
        become_,
        become_password: None,
        remote_user: conn.user.clone().or(cfg.remote_user.clone()),
        private_key: conn.private_key.clone().or(cfg.private_key_file.clone()),
        known_hosts: conn.known_hosts.clone(),
        host_key_policy: policy,
        connect_timeout: Duration::from_secs(conn.timeout.max(1)),
        task_timeout: (conn.task_timeout > 0).then(|| Duration::from_secs(conn.task_timeout)),
        verbosity: conn.verbose,
        roles_path: cfg.roles_path.clone(),
        ..Default::default()
    })
}

/// Loads and validates every playbook; all problems of all playbooks are reported
/// together. No inventory is loaded, no host or API contacted.
fn load_playbooks(
    paths: &[PathBuf],
    roles_path: Vec<PathBuf>,
    extra_vars: &IndexMap<String, Value>,
) -> Result<Vec<Playbook>> {
    let registry = crate::modules::registry();
    let loader = Loader::new(&registry, roles_path);
    let templar = Templar::new();
    let mut books = Vec::new();
    let mut problems = Vec::new();
    for pb in paths {
        let loaded = loader.parse_playbook(pb);
        problems.extend(loader.take_problems());
        match loaded {
            Ok(mut book) => {
                problems.extend(validate(&mut book, &templar, extra_vars));
                books.push(book);
            }
            Err(e) => match e.into_problems() {
                Ok(more) => problems.extend(more),
                Err(fatal) if problems.is_empty() => return Err(fatal),
                // Reported with the problems found before, at the playbook's file.
                Err(fatal) => problems.push(crate::error::SourceError::new(
                    &crate::error::Span::file_start(pb),
                    fatal.to_string(),
                )),
            },
        }
    }
    Error::from_problems(problems)?;
    Ok(books)
}

async fn run_playbooks(args: RunArgs) -> Result<i32> {
    let playbook_dir = args
        .playbooks
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf);
    let pdir = playbook_dir.as_deref().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    let front = front(&args.conn)?;
    // Parse and validate every playbook before any inventory script runs, any cloud API
    // is called or any host is contacted.
    let books = load_playbooks(
        &args.playbooks,
        front.cfg.roles_path.clone(),
        &front.extra_vars,
    )?;
    if args.syntax_check {
        for b in &books {
            // what a newer ansible-core would refuse (rdeploy runs it): notes, not errors
            for n in crate::playbook::upgrade::notes(b) {
                eprintln!("[WARNING]: {}: {}", n.span, n.msg);
            }
            println!("playbook: {}", b.path.display());
        }
        return Ok(EXIT_OK);
    }
    let mut p = prepare(&args.conn, front, pdir).await?;
    p.opts.tags = split_tags(&args.tags);
    p.opts.skip_tags = split_tags(&args.skip_tags);
    p.opts.start_at_task = args.start_at_task.clone();
    p.opts.retry_file = args.retry_file.clone();
    if args.list_hosts || args.list_tasks || args.list_tags {
        let ex = Executor::new(p.inv, p.opts, p.reporter);
        for b in &books {
            println!("\nplaybook: {}", b.path.display());
            for (i, play) in b.plays.iter().enumerate() {
                let hosts = ex.select_hosts(&play.hosts)?;
                // ansible-playbook's layout: an unnamed play is named by its hosts; the
                // play's tags joined by ","
                let name = if play.name.is_empty() {
                    &play.hosts
                } else {
                    &play.name
                };
                println!(
                    "\n  play #{} ({}): {}\tTAGS: [{}]",
                    i + 1,
                    play.hosts,
                    name,
                    play.tags.join(",")
                );
                if args.list_hosts {
                    println!(
                        "    pattern: ['{}']\n    hosts ({}):",
                        play.hosts,
                        hosts.len()
                    );
                    for h in &hosts {
                        println!("      {h}");
                    }
                }
                if args.list_tasks || args.list_tags {
                    // ansible-playbook: the task list, then `TASK TAGS:` the sorted union
                    // of the play's tags and those of every selected task
                    let mut all: std::collections::BTreeSet<String> =
                        play.tags.iter().cloned().collect();
                    if args.list_tasks {
                        println!("    tasks:");
                    }
                    // as ansible-playbook 2.21: `--list-tasks` alone leaves out `never`
                    // tasks (the default selection); with `--list-tags` and no
                    // --tags/--skip-tags every task is listed, `never` ones too
                    let filter =
                        !(args.list_tags && args.tags.is_empty() && args.skip_tags.is_empty());
                    for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
                        list_tasks(
                            section,
                            &play.tags,
                            6,
                            &ex,
                            (args.list_tasks, filter),
                            &mut all,
                        );
                    }
                    if args.list_tags {
                        let all: Vec<&str> = all.iter().map(String::as_str).collect();
                        println!("      TASK TAGS: [{}]", all.join(", "));
                    }
                }
            }
        }
        return Ok(EXIT_OK);
    }
    // old forms rdeploy runs and a newer ansible-core refuses: one line each
    for b in &books {
        for n in crate::playbook::upgrade::notes(b) {
            p.reporter.event(&output::Event::Warning {
                msg: format!("[DEPRECATION] {}: {}", n.span, n.msg),
            });
        }
    }
    let ex = Executor::new(p.inv, p.opts, p.reporter.clone());
    let mut code = EXIT_OK;
    let run = async {
        for b in &books {
            let summary = ex.run_playbook(b).await?;
            code = code.max(summary.exit_code);
        }
        Ok::<i32, Error>(code)
    };
    let res = tokio::select! {
        r = run => r,
        _ = tokio::signal::ctrl_c() => {
            p.reporter.finish();
            eprintln!("\n[ERROR]: User interrupted execution");
            return Ok(EXIT_INTERRUPTED);
        }
    };
    p.reporter.finish();
    res
}

/// `--list-tasks` in ansible-playbook's layout: the tasks of blocks (not their rescue
/// and always sections, as ansible-playbook), a named task as `role : name`, an unnamed
/// one as its bare action, tags (play's, inherited and own) as a sorted set.
/// Every selected task's tags are added to `all` (for `--list-tags`); with `print` the
/// tasks are listed; with `filter` only those the tag options select.
fn list_tasks(
    tasks: &[Task],
    inherited: &[String],
    indent: usize,
    ex: &Executor,
    (print, filter): (bool, bool),
    all: &mut std::collections::BTreeSet<String>,
) {
    for t in tasks {
        let tags: Vec<String> = inherited.iter().chain(t.tags.iter()).cloned().collect();
        match &t.kind {
            TaskKind::Block { block, .. } => {
                list_tasks(block, &tags, indent, ex, (print, filter), all)
            }
            _ => {
                if !filter || ex.tags_match(&tags, false) {
                    all.extend(tags.iter().cloned());
                    if !print {
                        continue;
                    }
                    let named = t.name.as_deref().is_some_and(|n| !n.is_empty());
                    let shown = if named {
                        t.display_name()
                    } else {
                        t.action().to_string()
                    };
                    let set: std::collections::BTreeSet<&String> = tags.iter().collect();
                    let set: Vec<&str> = set.into_iter().map(String::as_str).collect();
                    println!(
                        "{}{}\tTAGS: [{}]",
                        " ".repeat(indent),
                        shown,
                        set.join(", ")
                    );
                }
            }
        }
    }
}

fn split_tags(v: &[String]) -> Vec<String> {
    v.iter()
        .flat_map(|t| t.split(',').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect()
}

async fn run_exec(args: ExecArgs) -> Result<i32> {
    let front = front(&args.conn)?;
    let module = args.module.clone().unwrap_or_else(|| {
        if args.command.is_empty() {
            "command".into()
        } else {
            "shell".into()
        }
    });
    let raw = if !args.command.is_empty() {
        args.command.join(" ")
    } else {
        args.args.clone().unwrap_or_default()
    };
    let registry = crate::modules::registry();
    use crate::playbook::{Action, EngineAction, Meta};
    let action = match Action::resolve(&module, &registry) {
        Some(Action::Engine(EngineAction::Meta(_))) => Action::Engine(EngineAction::Meta(
            Meta::parse(&raw)
                .ok_or_else(|| Error::usage(format!("invalid meta action `{raw}`")))?,
        )),
        Some(a) => a,
        None => return Err(Error::usage(format!("unknown module `{module}`"))),
    };
    let free = match &action {
        Action::Engine(e) => e.free_form(),
        Action::Module(m) => registry.get(m).is_some_and(|m| m.free_form()),
    };
    let mut amap = IndexMap::new();
    for (k, v) in crate::playbook::kv::parse_kv(&raw, free) {
        amap.insert(k, Value::from(v));
    }
    let mut task = crate::executor::task::synthetic_task(&format!("{module}"), &module);
    task.tags = vec![];
    task.check_mode = None;
    task.kind = TaskKind::Action {
        action,
        args: Value::from_pairs(amap),
    };
    task.name = Some(format!("{module} {raw}").trim().to_string());
    let play = crate::playbook::Play {
        name: format!("rdeploy exec {}", args.pattern),
        span: task.span.clone(),
        hosts: args.pattern.clone(),
        dir: PathBuf::from("."),
        vars: Default::default(),
        vars_files: vec![],
        pre_tasks: vec![],
        tasks: vec![task],
        post_tasks: vec![],
        handlers: vec![],
        roles: vec![],
        become_: Become::default(),
        remote_user: None,
        connection: None,
        gather_facts: false,
        serial: vec![],
        max_fail_percentage: None,
        any_errors_fatal: false,
        strategy_free: false,
        tags: vec![],
        environment: None,
        check_mode: None,
        force_handlers: false,
        ignore_errors: false,
        ignore_unreachable: false,
        key_spans: Default::default(),
    };
    let mut p = prepare(&args.conn, front, None).await?;
    p.opts.retry_file = None;
    p.opts.stream_output = true;
    let ex = Executor::new(p.inv, p.opts, p.reporter.clone());
    let book = Playbook {
        path: PathBuf::from("<exec>"),
        plays: vec![play],
    };
    // Ctrl-C ends every host's command: leaving drops the channels, and each host's
    // watchdog stops its command when its channel closes (ssh::stream).
    let summary = tokio::select! {
        s = ex.run_playbook(&book) => s?,
        _ = tokio::signal::ctrl_c() => {
            p.reporter.finish();
            return Err(Error::Interrupted);
        }
    };
    p.reporter.finish();
    Ok(summary.exit_code)
}

async fn inventory(args: InventoryArgs) -> Result<i32> {
    let cfg = crate::config::load(args.config.as_deref())?;
    crate::vault::setup(&args.vault, &cfg)?;
    let mut sources: Vec<PathBuf> = args.inventory.iter().map(PathBuf::from).collect();
    if sources.is_empty() {
        sources = cfg.inventory.iter().map(PathBuf::from).collect();
    }
    if sources.is_empty() {
        return Err(Error::usage("no inventory given: use -i SOURCE"));
    }
    check_sources_exist(&sources)?;
    let inv = Inventory::load(&sources, None).await?;
    use crate::inventory::display;
    let host = match &args.action {
        Some(InventoryAction::Host { name }) => Some(name.clone()),
        _ => args.host.clone(),
    };
    if let Some(h) = host {
        if !inv.hosts.contains_key(&h) {
            return Err(Error::usage(format!("host {h} is not in the inventory")));
        }
        let mut j = display::host(&inv, &h);
        crate::vault::censor::censor_json(&mut j);
        println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        return Ok(EXIT_OK);
    }
    if let Some(InventoryAction::Graph { group }) = &args.action {
        print!("{}", display::graph(&inv, group.as_deref()));
        return Ok(EXIT_OK);
    }
    if args.graph {
        print!("{}", display::graph(&inv, None));
        return Ok(EXIT_OK);
    }
    if args.json {
        let mut j = display::to_ansible_json(&inv);
        crate::vault::censor::censor_json(&mut j);
        println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        return Ok(EXIT_OK);
    }
    let hosts = match &args.limit {
        Some(l) => inv.select(l)?,
        None => inv.group_hosts("all"),
    };
    print!("{}", display::table(&inv, &hosts));
    Ok(EXIT_OK)
}

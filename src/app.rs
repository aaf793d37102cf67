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
use crate::playbook::{loader::Loader, Become, Playbook, Task, TaskKind};
use crate::ssh::HostKeyPolicy;
use crate::template::Templar;
use indexmap::IndexMap;
use minijinja::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Exit statuses.
pub const EXIT_OK: i32 = 0;
pub const EXIT_BAD_INPUT: i32 = 1;
pub const EXIT_INTERRUPTED: i32 = 130;

/// Runs a command; returns the process exit status.
pub async fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run(args) => run_playbooks(args).await,
        Command::Exec(args) => run_exec(args).await,
        Command::Inventory(args) => inventory(args).await,
        Command::Provision(a) => {
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

async fn prepare(conn: &ConnArgs, playbook_dir: Option<&Path>) -> Result<Prepared> {
    let cfg = crate::config::load(conn.config.as_deref())?;
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
    for s in &sources {
        let text = s.to_string_lossy();
        if !text.contains(',') && !s.exists() {
            return Err(Error::usage(format!(
                "inventory source {} does not exist",
                s.display()
            )));
        }
    }
    let inv = Inventory::load(&sources, playbook_dir).await?;
    let extra_vars = parse_extra_vars(&conn.extra_vars)?;
    let become_password = if conn.ask_become_pass {
        Some(
            rpassword::prompt_password("BECOME password: ")
                .map_err(|e| Error::usage(format!("cannot read the become password: {e}")))?,
        )
    } else {
        None
    };
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
        return Err(Error::usage("--forks must be at least 1"));
    }
    let opts = RunOptions {
        check: conn.check,
        diff: conn.diff,
        forks,
        limit: conn.limit.clone(),
        extra_vars,
        become_,
        become_password,
        remote_user: conn.user.clone().or(cfg.remote_user.clone()),
        private_key: conn.private_key.clone().or(cfg.private_key_file.clone()),
        known_hosts: conn.known_hosts.clone(),
        host_key_policy: policy,
        connect_timeout: Duration::from_secs(conn.timeout.max(1)),
        task_timeout: (conn.task_timeout > 0).then(|| Duration::from_secs(conn.task_timeout)),
        verbosity: conn.verbose,
        roles_path: cfg.roles_path.clone(),
        ..Default::default()
    };
    let reporter: Arc<dyn Reporter> =
        Arc::from(output::reporter(conn.output, conn.verbose, conn.diff));
    Ok(Prepared {
        inv,
        opts,
        reporter,
    })
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
    let mut p = prepare(&args.conn, pdir).await?;
    p.opts.tags = split_tags(&args.tags);
    p.opts.skip_tags = split_tags(&args.skip_tags);
    p.opts.start_at_task = args.start_at_task.clone();
    p.opts.retry_file = args.retry_file.clone();
    let registry = crate::modules::registry();
    let loader = Loader {
        registry: &registry,
        roles_path: p.opts.roles_path.clone(),
    };
    // Parse and validate every playbook before anything runs.
    let templar = Templar::new();
    let mut books = Vec::new();
    for pb in &args.playbooks {
        let book = loader.load_playbook(pb)?;
        validate_templates(&book, &templar)?;
        books.push(book);
    }
    if args.syntax_check {
        for b in &books {
            println!("playbook: {}", b.path.display());
        }
        return Ok(EXIT_OK);
    }
    if args.list_hosts || args.list_tasks {
        let ex = Executor::new(p.inv, p.opts, p.reporter);
        for b in &books {
            println!("\nplaybook: {}", b.path.display());
            for (i, play) in b.plays.iter().enumerate() {
                let hosts = ex.select_hosts(&play.hosts)?;
                println!("\n  play #{} ({}): {}", i + 1, play.hosts, play.name);
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
                if args.list_tasks {
                    println!("    tasks:");
                    for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
                        list_tasks(section, &play.tags, 6, &ex);
                    }
                }
            }
        }
        return Ok(EXIT_OK);
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

fn list_tasks(tasks: &[Task], inherited: &[String], indent: usize, ex: &Executor) {
    for t in tasks {
        let tags: Vec<String> = inherited.iter().chain(t.tags.iter()).cloned().collect();
        match &t.kind {
            TaskKind::Block {
                block,
                rescue,
                always,
            } => {
                list_tasks(block, &tags, indent, ex);
                list_tasks(rescue, &tags, indent, ex);
                list_tasks(always, &tags, indent, ex);
            }
            _ => {
                if ex.tags_match(&tags, false) {
                    println!(
                        "{}{}\tTAGS: [{}]",
                        " ".repeat(indent),
                        t.display_name(),
                        tags.join(", ")
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

/// Compiles every template string and conditional of a playbook, and the template files
/// that tasks reference by a literal path, so syntax errors stop the run before any host
/// is contacted.
pub fn validate_templates(book: &Playbook, templar: &Templar) -> Result<()> {
    fn check_value(v: &Value, templar: &Templar, span: &crate::error::Span) -> Result<()> {
        use minijinja::value::ValueKind;
        match v.kind() {
            ValueKind::String => {
                let s = v.as_str().unwrap_or_default();
                if Templar::is_template(s) {
                    if let Err(e) = templar.env().template_from_str(s) {
                        return Err(Error::source_at(
                            span,
                            format!(
                                "template error: {}",
                                crate::template::TemplateError::from(e).message
                            ),
                        ));
                    }
                }
            }
            ValueKind::Seq | ValueKind::Map => {
                if let Ok(it) = v.try_iter() {
                    for k in it {
                        let item = if v.kind() == ValueKind::Map {
                            v.get_item(&k).unwrap_or_default()
                        } else {
                            k
                        };
                        check_value(&item, templar, span)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
    fn check_cond(c: &str, templar: &Templar, span: &crate::error::Span) -> Result<()> {
        let t = c.trim();
        let expr = crate::template::single_expression(t).unwrap_or(t);
        if Templar::is_template(expr) {
            return check_value(&Value::from(expr), templar, span);
        }
        templar
            .env()
            .compile_expression(expr)
            .map(|_| ())
            .map_err(|e| {
                Error::source_at(
                    span,
                    format!(
                        "invalid conditional `{c}`: {}",
                        crate::template::TemplateError::from(e).message
                    ),
                )
            })
    }
    fn walk(tasks: &[Task], templar: &Templar) -> Result<()> {
        for t in tasks {
            for c in t
                .when
                .iter()
                .chain(t.changed_when.iter().flatten())
                .chain(t.failed_when.iter().flatten())
                .chain(t.until.iter().flatten())
            {
                check_cond(c, templar, &t.span)?;
            }
            match &t.kind {
                TaskKind::Action { module, args } => {
                    check_value(args, templar, &t.span)?;
                    if module == "template" {
                        if let Ok(src) = args.get_attr("src") {
                            if let Some(s) = src.as_str() {
                                if !Templar::is_template(s) {
                                    let search = crate::modules::SearchPaths {
                                        role_dir: t.role.as_ref().map(|r| r.path.clone()),
                                        playbook_dir: t.dir.clone(),
                                    };
                                    match search.find(s, "templates") {
                                        Some(path) => {
                                            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
                                            if let Err(e) = templar.env().template_from_named_str(&path.display().to_string(), &text) {
                                                let line = e.line().unwrap_or(1);
                                                let col = column_of_error(&text, &e);
                                                let span = crate::error::Span { file: Arc::new(path.clone()), line, col };
                                                return Err(Error::source_at(&span, format!("template syntax error: {}", e.detail().unwrap_or("invalid template"))));
                                            }
                                        }
                                        None => return Err(Error::source_at(&t.span, format!("could not find template `{s}` (searched templates/ of the role and the playbook directory)"))),
                                    }
                                }
                            }
                        }
                    }
                }
                TaskKind::Block {
                    block,
                    rescue,
                    always,
                } => {
                    walk(block, templar)?;
                    walk(rescue, templar)?;
                    walk(always, templar)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
    for play in &book.plays {
        walk(&play.pre_tasks, templar)?;
        walk(&play.tasks, templar)?;
        walk(&play.post_tasks, templar)?;
        walk(&play.handlers, templar)?;
    }
    Ok(())
}

fn column_of_error(text: &str, e: &minijinja::Error) -> usize {
    match (e.range(), e.line()) {
        (Some(r), Some(line)) => {
            let line_start: usize = text
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum();
            r.start.saturating_sub(line_start) + 1
        }
        _ => 1,
    }
}

async fn run_exec(args: ExecArgs) -> Result<i32> {
    let mut p = prepare(&args.conn, None).await?;
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
    let free = registry
        .get(&module)
        .map(|m| m.free_form())
        .unwrap_or(false);
    if registry.get(&module).is_none()
        && !crate::playbook::loader::EXECUTOR_ACTIONS.contains(&module.as_str())
    {
        return Err(Error::usage(format!("unknown module `{module}`")));
    }
    let mut amap = IndexMap::new();
    for (k, v) in crate::playbook::kv::parse_kv(&raw, free) {
        amap.insert(k, Value::from(v));
    }
    let mut task = crate::executor::task::synthetic_task(&format!("{module}"), &module);
    task.tags = vec![];
    task.check_mode = None;
    task.kind = TaskKind::Action {
        module: module.clone(),
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
    };
    p.opts.retry_file = None;
    let ex = Executor::new(p.inv, p.opts, p.reporter.clone());
    let book = Playbook {
        path: PathBuf::from("<exec>"),
        plays: vec![play],
    };
    let summary = ex.run_playbook(&book).await?;
    p.reporter.finish();
    Ok(summary.exit_code)
}

async fn inventory(args: InventoryArgs) -> Result<i32> {
    let cfg = crate::config::load(args.config.as_deref())?;
    let mut sources: Vec<PathBuf> = args.inventory.iter().map(PathBuf::from).collect();
    if sources.is_empty() {
        sources = cfg.inventory.iter().map(PathBuf::from).collect();
    }
    if sources.is_empty() {
        return Err(Error::usage("no inventory given: use -i SOURCE"));
    }
    for s in &sources {
        if !s.to_string_lossy().contains(',') && !s.exists() {
            return Err(Error::usage(format!(
                "inventory source {} does not exist",
                s.display()
            )));
        }
    }
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
        println!(
            "{}",
            serde_json::to_string_pretty(&display::host(&inv, &h)).unwrap_or_default()
        );
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
        println!(
            "{}",
            serde_json::to_string_pretty(&display::to_ansible_json(&inv)).unwrap_or_default()
        );
        return Ok(EXIT_OK);
    }
    let hosts = match &args.limit {
        Some(l) => inv.select(l)?,
        None => inv.group_hosts("all"),
    };
    print!("{}", display::table(&inv, &hosts));
    Ok(EXIT_OK)
}

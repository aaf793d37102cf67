//! Command-line arguments as the user typed them (clap). [`crate::config`] turns them
//! into a validated configuration before anything touches a host or a cloud API.

use crate::output::Format;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The exit status table shown by `--help` (the same as in README.md).
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0    ok (nothing failed; also --syntax-check, --list-*, a plan with no change)
  1    bad input or usage: a playbook, inventory, template or spec error (with
       file:line:col), a bad flag; nothing was run
  2    a task failed on some host
  3    a cloud API call failed or its endpoint could not be reached (EC2 inventory,
       provision, destroy)
  4    some host was unreachable
  130  interrupted (Ctrl-C)";

#[derive(Debug, Parser)]
#[command(
    name = "rdeploy",
    version,
    about = "Agentless configuration, deploy and provisioning over SSH (Ansible-compatible)",
    after_help = EXIT_STATUS_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run playbooks against the inventory (like ansible-playbook).
    Run(RunArgs),
    /// Run one module on hosts matching a pattern (like `ansible PATTERN -m shell -a ...`).
    Exec(ExecArgs),
    /// Show the inventory (static files, scripts and aws_ec2 sources).
    Inventory(InventoryArgs),
    /// Create or converge the infrastructure described by an infra spec (AWS).
    Provision(ProvisionArgs),
    /// Destroy everything of the spec's project and environment.
    Destroy(DestroyArgs),
    /// The environments of the spec's project, found by their tags (read-only).
    Env(EnvArgs),
    /// Encrypt and decrypt files and values with ansible-vault's format.
    Vault(VaultArgs),
    /// List the modules rdeploy knows, or show one's parameters (like ansible-doc).
    Doc {
        /// A module name (short or fully qualified); none lists them all.
        module: Option<String>,
    },
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HostKeyChecking {
    /// Refuse unknown and changed host keys (default).
    Strict,
    /// Record unknown keys in known_hosts, refuse changed ones.
    AcceptNew,
    /// Do not check host keys.
    Off,
}

/// Options shared by everything that connects to hosts.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Inventory file, directory, script, aws_ec2 config, or a `host1,host2,` list (repeatable).
    #[arg(short = 'i', long = "inventory", value_name = "SOURCE")]
    pub inventory: Vec<String>,
    /// Further limit the selected hosts with a pattern.
    #[arg(short = 'l', long = "limit", value_name = "PATTERN")]
    pub limit: Option<String>,
    /// Extra variables: `k=v ...`, `@file.yml`, or JSON (repeatable; highest precedence).
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
    /// Connect as this user.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Private key file for SSH authentication.
    #[arg(long = "private-key", alias = "key-file", value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// Run tasks with privilege escalation (sudo).
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// Become this user (default root).
    #[arg(long = "become-user")]
    pub become_user: Option<String>,
    /// Privilege escalation method.
    #[arg(long = "become-method", value_parser = ["sudo", "su"])]
    pub become_method: Option<String>,
    /// Ask for the privilege escalation password (never echoed, logged or put on a command line).
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// How many hosts are worked on in parallel [default: 50, or ansible.cfg's `forks`]
    /// (docs/BENCHMARKS.md, "Default --forks", shows why 50).
    #[arg(short = 'f', long = "forks")]
    pub forks: Option<usize>,
    /// Don't change anything; predict the changes.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Show diffs of changed files.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,
    /// Host key checking policy.
    #[arg(long = "host-key-checking", value_enum)]
    pub host_key_checking: Option<HostKeyChecking>,
    /// known_hosts file(s) to verify host keys against (default ~/.ssh/known_hosts).
    #[arg(long = "known-hosts", value_name = "FILE")]
    pub known_hosts: Vec<PathBuf>,
    /// Connection timeout in seconds.
    #[arg(short = 'T', long = "timeout", default_value_t = 10)]
    pub timeout: u64,
    /// Per-task timeout in seconds (0: none).
    #[arg(long = "task-timeout", default_value_t = 0)]
    pub task_timeout: u64,
    /// More output (-v, -vv, -vvv).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Output format.
    #[arg(long = "output", value_enum, default_value_t = Format::Human)]
    pub output: Format,
    /// Project config file (default: ./rdeploy.toml is not used; ansible.cfg is read when present).
    #[arg(long = "config", value_name = "FILE", env = "ANSIBLE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub vault: VaultPassArgs,
}

/// Where vault passwords come from (also ansible.cfg's `vault_identity_list` and
/// `vault_password_file`, `$ANSIBLE_VAULT_PASSWORD_FILE`).
#[derive(Debug, Clone, Default, Args)]
pub struct VaultPassArgs {
    /// Vault password file, or an executable that prints the password (repeatable).
    #[arg(
        long = "vault-password-file",
        alias = "vault-pass-file",
        value_name = "FILE",
        global = true
    )]
    pub password_files: Vec<PathBuf>,
    /// Ask for the vault password.
    #[arg(
        short = 'J',
        long = "ask-vault-pass",
        alias = "ask-vault-password",
        global = true
    )]
    pub ask: bool,
    /// A vault identity: `LABEL@FILE`, `LABEL@prompt` or `FILE` (repeatable).
    #[arg(long = "vault-id", value_name = "LABEL@SOURCE", global = true)]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VaultArgs {
    #[command(subcommand)]
    pub action: VaultAction,
    #[command(flatten)]
    pub pass: VaultPassArgs,
    /// Project config file (ansible.cfg), for its vault settings.
    #[arg(
        long = "config",
        value_name = "FILE",
        env = "ANSIBLE_CONFIG",
        global = true
    )]
    pub config: Option<PathBuf>,
    /// The vault id to encrypt with when several are given.
    #[arg(long = "encrypt-vault-id", value_name = "ID", global = true)]
    pub encrypt_vault_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum VaultAction {
    /// Create a new encrypted file (opens $EDITOR).
    Create { file: PathBuf },
    /// Encrypt files in place (`-` or no file: stdin to stdout).
    Encrypt {
        files: Vec<PathBuf>,
        /// Write to this file instead (`-`: stdout).
        #[arg(long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Decrypt files in place (`-` or no file: stdin to stdout).
    Decrypt {
        files: Vec<PathBuf>,
        /// Write to this file instead (`-`: stdout).
        #[arg(long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the decrypted content of files.
    View {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Edit an encrypted file (decrypted to a private temporary file, $EDITOR).
    Edit { file: PathBuf },
    /// Encrypt files again with a new password.
    Rekey {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The new password's file (or executable).
        #[arg(long = "new-vault-password-file", value_name = "FILE")]
        new_password_file: Option<PathBuf>,
        /// The new vault identity (`LABEL@SOURCE`).
        #[arg(long = "new-vault-id", value_name = "LABEL@SOURCE")]
        new_vault_id: Option<String>,
    },
    /// Print `name: !vault |` blocks for values (arguments, --prompt, or stdin).
    #[command(name = "encrypt_string", alias = "encrypt-string")]
    EncryptString {
        values: Vec<String>,
        /// Variable names, one per value, in order.
        #[arg(short = 'n', long = "name")]
        names: Vec<String>,
        /// Ask for the value (not echoed).
        #[arg(short = 'p', long = "prompt")]
        prompt: bool,
        /// Read the value from stdin and name it.
        #[arg(long = "stdin-name", value_name = "NAME")]
        stdin_name: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Playbook file(s).
    #[arg(required = true)]
    pub playbooks: Vec<PathBuf>,
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Only run tasks and plays with these tags (comma-separated, repeatable).
    #[arg(short = 't', long = "tags")]
    pub tags: Vec<String>,
    /// Skip tasks and plays with these tags.
    #[arg(long = "skip-tags")]
    pub skip_tags: Vec<String>,
    /// Start at the task with this name.
    #[arg(long = "start-at-task")]
    pub start_at_task: Option<String>,
    /// List the hosts each play would run on, and exit.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    /// List the tasks each play would run, and exit.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,
    /// List the tags of each play's tasks (that the tag filters select), and exit.
    #[arg(long = "list-tags")]
    pub list_tags: bool,
    /// Check the playbook's syntax (and the inventory, templates references), and exit.
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,
    /// Where to write failed/unreachable hosts (default: PLAYBOOK.retry next to the playbook).
    #[arg(long = "retry-file")]
    pub retry_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Host pattern.
    pub pattern: String,
    /// Module to run (default: shell when a command follows `--`, else command).
    #[arg(short = 'm', long = "module-name")]
    pub module: Option<String>,
    /// Module arguments (`k=v ...` or free form).
    #[arg(short = 'a', long = "args")]
    pub args: Option<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The command to run, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(subcommand)]
    pub action: Option<InventoryAction>,
    /// Inventory sources (repeatable).
    #[arg(short = 'i', long = "inventory", global = true)]
    pub inventory: Vec<String>,
    /// Output the `ansible-inventory --list` JSON.
    #[arg(long = "json", global = true)]
    pub json: bool,
    /// Output the group graph.
    #[arg(long = "graph", global = true)]
    pub graph: bool,
    /// Show one host's variables.
    #[arg(long = "host", global = true)]
    pub host: Option<String>,
    /// Limit to hosts matching a pattern.
    #[arg(short = 'l', long = "limit", global = true)]
    pub limit: Option<String>,
    /// Project config file.
    #[arg(
        long = "config",
        value_name = "FILE",
        env = "ANSIBLE_CONFIG",
        global = true
    )]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub vault: VaultPassArgs,
}

#[derive(Debug, Subcommand)]
pub enum InventoryAction {
    /// List hosts (a table; `--json` for ansible-inventory format).
    List,
    /// Show groups as a tree.
    Graph {
        /// Start from this group.
        group: Option<String>,
    },
    /// Show one host's variables.
    Host { name: String },
}

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// The infra spec (YAML).
    #[arg(default_value = "inventory/infra.yml")]
    pub spec: PathBuf,
    /// Environment name (overrides the spec's).
    #[arg(long = "env")]
    pub env: Option<String>,
    /// Show the plan and exit without changing anything.
    #[arg(long = "plan")]
    pub plan: bool,
    /// Apply replacements and deletions without asking.
    #[arg(long = "auto-approve", alias = "yes")]
    pub auto_approve: bool,
    /// Output format.
    #[arg(long = "output", value_enum, default_value_t = Format::Human)]
    pub output: Format,
    /// Vault passwords, for `!vault` values and vaulted files the spec uses.
    #[command(flatten)]
    pub vault: VaultPassArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The infra spec (YAML).
    #[arg(default_value = "inventory/infra.yml")]
    pub spec: PathBuf,
    #[arg(long = "env")]
    pub env: Option<String>,
    /// Show what would be destroyed and exit.
    #[arg(long = "plan")]
    pub plan: bool,
    /// Destroy without asking.
    #[arg(long = "auto-approve", alias = "yes")]
    pub auto_approve: bool,
    #[arg(long = "output", value_enum, default_value_t = Format::Human)]
    pub output: Format,
    #[command(flatten)]
    pub vault: VaultPassArgs,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(subcommand)]
    pub action: EnvAction,
}

#[derive(Debug, Subcommand)]
pub enum EnvAction {
    /// Every environment of the project: resource counts per kind, creation time.
    List {
        /// The infra spec (YAML): its project and regions are listed.
        #[arg(default_value = "inventory/infra.yml")]
        spec: PathBuf,
        #[arg(long = "output", value_enum, default_value_t = Format::Human)]
        output: Format,
    },
    /// One environment's resources, addresses and the spec's outputs.
    Show {
        /// The environment name (as given to `provision --env`).
        env: String,
        /// The infra spec (YAML).
        #[arg(default_value = "inventory/infra.yml")]
        spec: PathBuf,
        #[arg(long = "output", value_enum, default_value_t = Format::Human)]
        output: Format,
    },
}

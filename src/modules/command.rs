//! The `command`, `shell` and `raw` modules: run something on the host and report its
//! output (`rc`, `stdout`, `stderr`, `stdout_lines`, `stderr_lines`, `cmd`, `start`,
//! `end`, `delta`), as Ansible does.
//!
//! One exchange per task: the script first does the `chdir`, `creates` and `removes`
//! checks, prints a one-line status marker (`RDX:...`) and only then `exec`s the
//! command, so the marker is the only thing rdeploy adds to the output and is stripped
//! before the result is built. `command` quotes every word of its argv (no shell);
//! `shell` hands the user's text to `/bin/sh -c` (or `executable`) as one quoted
//! argument; `raw` sends the text as the script itself.
//!
//! Check mode follows Ansible: without `creates`/`removes` the task is skipped; with
//! them the checks run and the result says whether the command would have run.

use super::util::shell_glob;
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::{self, Script};
use async_trait::async_trait;
use serde_json::Value;
use std::time::SystemTime;

/// Keys Ansible takes out of a free-form command line (`make creates=/x chdir=/src`).
const SPECIAL: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
];

const COMMAND_PARAMS: &[&str] = &[
    "_raw_params",
    "cmd",
    "argv",
    "chdir",
    "creates",
    "removes",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
    "expand_argument_vars",
    "executable",
    "warn",
    "free_form",
    "_uses_shell",
];

/// What to run and under which conditions (shared with the `script` module).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct CmdSpec {
    /// The free-form text (`cmd`), specials removed.
    pub raw: Option<String>,
    pub argv: Option<Vec<String>>,
    pub chdir: Option<String>,
    pub creates: Option<String>,
    pub removes: Option<String>,
    pub stdin: Option<String>,
    pub stdin_add_newline: bool,
    pub strip_empty_ends: bool,
    pub executable: Option<String>,
    pub expand_argument_vars: bool,
}

impl CmdSpec {
    pub(super) fn from_args(args: &Args, extract_specials: bool) -> Result<Self, ModuleError> {
        let mut spec = CmdSpec {
            raw: args.raw_params(),
            argv: match args.get("argv") {
                Some(Value::Array(_)) | Some(Value::String(_)) => args.list("argv"),
                Some(_) => return Err(ModuleError::failed("argv must be a list")),
                None => None,
            },
            chdir: args.str("chdir"),
            creates: args.str("creates"),
            removes: args.str("removes"),
            stdin: args.str("stdin"),
            stdin_add_newline: args.bool_or("stdin_add_newline", true)?,
            strip_empty_ends: args.bool_or("strip_empty_ends", true)?,
            executable: args.str("executable"),
            expand_argument_vars: args.bool_or("expand_argument_vars", true)?,
        };
        if extract_specials {
            if let Some(raw) = spec.raw.take() {
                let (rest, found) = extract_special(&raw);
                for (k, v) in found {
                    let slot = match k.as_str() {
                        "creates" => &mut spec.creates,
                        "removes" => &mut spec.removes,
                        "chdir" => &mut spec.chdir,
                        "executable" => &mut spec.executable,
                        "stdin" => &mut spec.stdin,
                        "stdin_add_newline" => {
                            spec.stdin_add_newline =
                                super::args::to_bool(&Value::String(v)).unwrap_or(true);
                            continue;
                        }
                        "strip_empty_ends" => {
                            spec.strip_empty_ends =
                                super::args::to_bool(&Value::String(v)).unwrap_or(true);
                            continue;
                        }
                        _ => continue, // warn: accepted and ignored, as ansible-core >= 2.14 does
                    };
                    if slot.is_none() {
                        *slot = Some(v);
                    }
                }
                spec.raw = Some(rest);
            }
        }
        if spec.raw.as_deref().map(str::trim).unwrap_or("").is_empty() {
            spec.raw = None;
        }
        if spec.raw.is_some() && spec.argv.is_some() {
            return Err(ModuleError::failed(
                "parameters are mutually exclusive: cmd|argv",
            ));
        }
        Ok(spec)
    }

    fn stdin_bytes(&self) -> Option<Vec<u8>> {
        self.stdin.as_ref().map(|s| {
            let mut b = s.clone().into_bytes();
            if self.stdin_add_newline {
                b.push(b'\n');
            }
            b
        })
    }
}

/// Splits a free-form command line into words, keeping each word's byte span
/// (quotes respected), so special `key=value` words can be cut out of the original.
fn word_spans(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let mut quote: Option<u8> = None;
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) if c == b'\\' && quote == Some(b'"') => i += 1,
                Some(_) => {}
                None if c == b'\'' || c == b'"' => quote = Some(c),
                None if c == b'\\' => i += 1,
                None if c.is_ascii_whitespace() => break,
                None => {}
            }
            i += 1;
        }
        spans.push((start, i.min(b.len())));
    }
    spans
}

/// Takes Ansible's special `key=value` words (`creates=`, `chdir=` ...) out of a
/// free-form command line; the rest of the text is kept byte for byte.
pub(super) fn extract_special(raw: &str) -> (String, Vec<(String, String)>) {
    let mut found = Vec::new();
    let mut cut: Vec<(usize, usize)> = Vec::new();
    for (a, b) in word_spans(raw) {
        let word = &raw[a..b];
        if let Some(eq) = word.find('=') {
            let key = &word[..eq];
            if SPECIAL.contains(&key) {
                let val = shell::split(&word[eq + 1..])
                    .ok()
                    .map(|w| w.join(" "))
                    .unwrap_or_else(|| word[eq + 1..].to_string());
                found.push((key.to_string(), val));
                cut.push((a, b));
            }
        }
    }
    if cut.is_empty() {
        return (raw.to_string(), found);
    }
    let mut out = String::new();
    let mut pos = 0;
    for (a, b) in cut {
        out.push_str(&raw[pos..a]);
        // Drop the blanks (not newlines) that followed the removed word.
        let rest = &raw[b..];
        let skip = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        pos = b + skip;
    }
    out.push_str(&raw[pos..]);
    (out.trim().to_string(), found)
}

/// A word of `command`'s argv as shell text: quoted, except that `$NAME`, `${NAME}` and
/// a leading `~` expand as Python's `expandvars`/`expanduser` would (unset variables
/// stay as written).
pub(super) fn expand_word(word: &str) -> String {
    let mut out = String::new();
    let mut lit = String::new();
    let mut rest = word;
    if rest == "~" || rest.starts_with("~/") {
        out.push_str("\"$HOME\"");
        rest = &rest[1..];
    }
    let bytes = rest.as_bytes();
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let (name, end, braced) = if bytes.get(i + 1) == Some(&b'{') {
                match rest[i + 2..].find('}') {
                    Some(e) => (&rest[i + 2..i + 2 + e], i + 3 + e, true),
                    None => ("", i + 1, false),
                }
            } else {
                let mut j = i + 1;
                while j < bytes.len() && ident(bytes[j]) {
                    j += 1;
                }
                (&rest[i + 1..j], j, false)
            };
            let valid =
                !name.is_empty() && !name.as_bytes()[0].is_ascii_digit() && name.bytes().all(ident);
            if valid {
                if !lit.is_empty() {
                    out.push_str(&shell::quote(&lit));
                    lit.clear();
                }
                if braced {
                    out.push_str(&format!("\"${{{name}-\\${{{name}\\}}}}\""));
                } else {
                    out.push_str(&format!("\"${{{name}-\\${name}}}\""));
                }
                i = end;
                continue;
            }
        }
        let ch = rest[i..].chars().next().unwrap();
        lit.push(ch);
        i += ch.len_utf8();
    }
    if !lit.is_empty() || out.is_empty() {
        out.push_str(&shell::quote(&lit));
    }
    out
}

/// A path as a shell word, `~` and `~/...` meaning the home directory on the host (as
/// Ansible's `path` arguments); the rest is rendered by `word` (quoting or a glob).
fn home_word(p: &str, word: fn(&str) -> String) -> String {
    if p == "~" {
        return "\"$HOME\"".into();
    }
    match p.strip_prefix("~/") {
        Some(rest) => format!(
            "\"$HOME\"/{}",
            if rest.is_empty() {
                String::new()
            } else {
                word(rest)
            }
        ),
        None => word(p),
    }
}

/// What the prelude found (the first line of stdout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    Run,
    Would,
    Creates,
    Removes,
    Chdir,
}

/// Appends the `chdir` / `creates` / `removes` prelude and the status marker.
/// In check mode the script stops after the marker.
pub(super) fn prelude(s: &mut Script, spec: &CmdSpec, check: bool) {
    if let Some(d) = &spec.chdir {
        s.raw("cd -- ")
            .raw(&home_word(d, crate::shell::quote))
            .raw(" 2>/dev/null || { echo RDX:CHDIR; exit 0; }\n");
    }
    if let Some(c) = &spec.creates {
        s.raw("for rd_f in ").raw(&home_word(c, shell_glob)).raw("; do if [ -e \"$rd_f\" ] || [ -L \"$rd_f\" ]; then echo RDX:CREATES; exit 0; fi; done\n");
    }
    if let Some(r) = &spec.removes {
        s.raw("rd_found=; for rd_f in ")
            .raw(&home_word(r, shell_glob))
            .raw(
                "; do if [ -e \"$rd_f\" ] || [ -L \"$rd_f\" ]; then rd_found=1; break; fi; done\n",
            );
        s.raw("[ -n \"$rd_found\" ] || { echo RDX:REMOVES; exit 0; }\n");
    }
    if check {
        s.raw("echo RDX:WOULD; exit 0\n");
    } else {
        s.raw("echo RDX:RUN\n");
    }
}

/// Splits the status marker off the output.
pub(super) fn parse_gate(stdout: &[u8]) -> (Option<Gate>, &[u8]) {
    let nl = stdout.iter().position(|&b| b == b'\n');
    let (first, rest) = match nl {
        Some(n) => (&stdout[..n], &stdout[n + 1..]),
        None => (stdout, &stdout[stdout.len()..]),
    };
    let gate = match first {
        b"RDX:RUN" => Gate::Run,
        b"RDX:WOULD" => Gate::Would,
        b"RDX:CREATES" => Gate::Creates,
        b"RDX:REMOVES" => Gate::Removes,
        b"RDX:CHDIR" => Gate::Chdir,
        _ => return (None, stdout),
    };
    (Some(gate), rest)
}

/// The outcome for a command that did not run because of `creates`/`removes`/check mode,
/// or `None` when it ran.
pub(super) fn gate_outcome(gate: Gate, spec: &CmdSpec, check: bool, cmd: Value) -> Option<Outcome> {
    let did = if check { "Would" } else { "Did" };
    let base = |stdout: String, msg: String| {
        let mut o = Outcome::changed(false)
            .with("cmd", cmd.clone())
            .with("rc", 0)
            .with("stdout", stdout.clone())
            .with("stdout_lines", lines_value(&stdout))
            .with("stderr", "")
            .with("stderr_lines", Value::Array(vec![]))
            .with("msg", msg.clone());
        o.msg = Some(msg);
        o
    };
    match gate {
        Gate::Run => None,
        Gate::Creates => {
            let c = spec.creates.clone().unwrap_or_default();
            Some(base(
                format!("skipped, since {c} exists"),
                format!("{did} not run command since '{c}' exists"),
            ))
        }
        Gate::Removes => {
            let r = spec.removes.clone().unwrap_or_default();
            Some(base(
                format!("skipped, since {r} does not exist"),
                format!("{did} not run command since '{r}' does not exist"),
            ))
        }
        Gate::Would => {
            let mut o = base(
                String::new(),
                "Command would have run if not in check mode".into(),
            );
            o.changed = true;
            Some(o)
        }
        Gate::Chdir => {
            let d = spec.chdir.clone().unwrap_or_default();
            let mut o = Outcome::failed(format!(
                "Unable to change directory before execution: No such file or directory: '{d}'"
            ))
            .with("cmd", cmd)
            .with("rc", 1);
            o.data.insert(
                "msg".into(),
                Value::String(o.msg.clone().unwrap_or_default()),
            );
            Some(o)
        }
    }
}

fn lines_value(s: &str) -> Value {
    Value::Array(s.lines().map(|l| Value::String(l.to_string())).collect())
}

/// Builds the result of a command that ran.
pub(super) fn ran_outcome(
    cmd: Value,
    rc: i32,
    stdout: &[u8],
    stderr: &[u8],
    strip: bool,
    start: SystemTime,
    end: SystemTime,
) -> Outcome {
    let mut out = String::from_utf8_lossy(stdout).into_owned();
    let mut err = String::from_utf8_lossy(stderr).into_owned();
    if strip {
        out.truncate(out.trim_end_matches(['\r', '\n']).len());
        err.truncate(err.trim_end_matches(['\r', '\n']).len());
    }
    let mut o = Outcome::changed(true)
        .with("cmd", cmd)
        .with("rc", rc)
        .with("stdout_lines", lines_value(&out))
        .with("stderr_lines", lines_value(&err))
        .with("stdout", out)
        .with("stderr", err)
        .with("start", fmt_time(start))
        .with("end", fmt_time(end))
        .with(
            "delta",
            fmt_delta(end.duration_since(start).unwrap_or_default()),
        );
    if rc != 0 {
        o.failed = true;
        o.msg = Some("non-zero return code".into());
        o.data
            .insert("msg".into(), Value::String("non-zero return code".into()));
    } else {
        o.data.insert("msg".into(), Value::String(String::new()));
    }
    o
}

/// `2024-05-01 12:00:00.123456` (UTC), the format of Ansible's `start`/`end`.
pub(super) fn fmt_time(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86400);
    let tod = secs.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        tod / 3600,
        (tod / 60) % 60,
        tod % 60,
        d.subsec_micros()
    )
}

/// `0:00:01.234567`, the format of Ansible's `delta`.
pub(super) fn fmt_delta(d: std::time::Duration) -> String {
    let s = d.as_secs();
    format!(
        "{}:{:02}:{:02}.{:06}",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        d.subsec_micros()
    )
}

/// Which of the three modules is running.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Command,
    Shell,
}

/// The command's spec, its `cmd` result value and the script line that runs it.
fn prepare(args: &Args, kind: Kind) -> Result<(CmdSpec, Value, String), ModuleError> {
    let spec = CmdSpec::from_args(args, true)?;
    let (cmd_value, body) = match kind {
        Kind::Command => {
            let argv = match (&spec.argv, &spec.raw) {
                (Some(a), _) => a.clone(),
                (None, Some(r)) => shell::split(r)
                    .map_err(|e| ModuleError::failed(format!("cannot parse command line: {e}")))?,
                (None, None) => return Err(ModuleError::failed("no command given")),
            };
            if argv.is_empty() {
                return Err(ModuleError::failed("no command given"));
            }
            let words: Vec<String> = argv
                .iter()
                .map(|w| {
                    if spec.expand_argument_vars {
                        expand_word(w)
                    } else {
                        shell::quote(w)
                    }
                })
                .collect();
            let cmd = Value::Array(argv.iter().cloned().map(Value::String).collect());
            (cmd, format!("exec {}\n", words.join(" ")))
        }
        Kind::Shell => {
            let text = match (&spec.raw, &spec.argv) {
                (Some(r), _) => r.clone(),
                (None, Some(a)) => shell::join(a),
                (None, None) => return Err(ModuleError::failed("no command given")),
            };
            let exe = spec
                .executable
                .clone()
                .unwrap_or_else(|| "/bin/sh".to_string());
            let mut s = Script::new();
            s.raw("exec ").arg(&exe).raw(" -c ").arg(&text).raw("\n");
            (Value::String(text), s.into_string())
        }
    };
    Ok((spec, cmd_value, body))
}

/// `async`: the prelude's checks in the foreground, then the command as a job of its
/// own on the host (see [`super::async_status::launch`]). Check mode is answered in the
/// foreground by [`run_command`] (the executor does not call this then).
async fn launch_command(
    ctx: &ModuleCtx<'_>,
    args: &Args,
    kind: Kind,
    limit: u64,
) -> Result<super::async_status::Launch, ModuleError> {
    use super::async_status::{launch, parse_launch, Launch};
    let (spec, cmd_value, body) = prepare(args, kind)?;
    let mut s = Script::new();
    prelude(&mut s, &spec, false);
    let stdin = spec.stdin_bytes();
    launch(&mut s, &body, limit, &cmd_value, stdin.is_some());
    let out = ctx.run_stdin(s.as_str(), stdin).await?;
    let (gate, rest) = parse_gate(&out.stdout);
    match gate {
        Some(Gate::Run) => {}
        Some(g) => {
            if let Some(o) = gate_outcome(g, &spec, false, cmd_value) {
                return Ok(Launch::Done(o));
            }
        }
        None => {}
    }
    parse_launch(&String::from_utf8_lossy(rest))
        .filter(|_| out.rc == 0)
        .map(Launch::Started)
        .ok_or_else(|| {
            ModuleError::failed(format!(
                "could not start the async job (rc={}): {}",
                out.rc,
                out.stderr_str().trim()
            ))
        })
}

async fn run_command(ctx: &ModuleCtx<'_>, args: &Args, kind: Kind) -> ModuleResult {
    let (spec, cmd_value, body) = prepare(args, kind)?;
    if ctx.check_mode && spec.creates.is_none() && spec.removes.is_none() {
        let mut o = Outcome {
            skipped: true,
            ..Default::default()
        };
        o.msg = Some("Command would have run if not in check mode".into());
        o.data.insert("cmd".into(), cmd_value);
        o.data.insert("rc".into(), Value::from(0));
        return Ok(o);
    }
    let mut s = Script::new();
    prelude(&mut s, &spec, ctx.check_mode);
    s.raw(&body);
    let start = SystemTime::now();
    let stdin = if ctx.check_mode {
        None
    } else {
        spec.stdin_bytes()
    };
    let out = match (&ctx.output, stdin) {
        // Streamed (`rdeploy exec`): the command's output goes out as it arrives, without
        // the status marker. A command given `stdin` is not streamed (a streamed command
        // reads /dev/null).
        (Some(sink), None) => {
            ctx.run_streamed(s.as_str(), without_marker(sink.clone()))
                .await?
        }
        (_, stdin) => ctx.run_stdin(s.as_str(), stdin).await?,
    };
    let end = SystemTime::now();
    let (gate, stdout) = parse_gate(&out.stdout);
    // No marker: the script did not get that far (become failed ...); the output is
    // reported as it is.
    if let Some(o) = gate.and_then(|g| gate_outcome(g, &spec, ctx.check_mode, cmd_value.clone())) {
        return Ok(o);
    }
    Ok(ran_outcome(
        cmd_value,
        out.rc,
        stdout,
        &out.stderr,
        spec.strip_empty_ends,
        start,
        end,
    ))
}

/// A sink that forwards everything but the status marker line the script prints
/// first on stdout (`RDX:RUN`).
fn without_marker(sink: crate::ssh::stream::OutputSink) -> crate::ssh::stream::OutputSink {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<crate::ssh::stream::OutputChunk>();
    tokio::spawn(async move {
        let mut head: Option<Vec<u8>> = Some(vec![]);
        while let Some(mut chunk) = rx.recv().await {
            if !chunk.stderr {
                if let Some(mut h) = head.take() {
                    h.extend_from_slice(&chunk.data);
                    match h.iter().position(|b| *b == b'\n') {
                        None if h.len() < 64 => {
                            head = Some(h);
                            continue;
                        }
                        Some(i) if h.starts_with(b"RDX:") => chunk.data = h.split_off(i + 1),
                        _ => chunk.data = h,
                    }
                }
            }
            if !chunk.data.is_empty() && sink.send(chunk).is_err() {
                break;
            }
        }
        if let Some(h) = head.filter(|h| !h.is_empty() && !h.starts_with(b"RDX:")) {
            let _ = sink.send(crate::ssh::stream::OutputChunk {
                stderr: false,
                data: h,
            });
        }
    });
    tx
}

pub struct Command;

#[async_trait]
impl Module for Command {
    fn name(&self) -> &'static str {
        "command"
    }
    fn free_form(&self) -> bool {
        true
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(COMMAND_PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        run_command(ctx, args, Kind::Command).await
    }
    async fn launch_async(
        &self,
        ctx: &ModuleCtx<'_>,
        args: &Args,
        limit: u64,
    ) -> Option<Result<super::async_status::Launch, ModuleError>> {
        Some(launch_command(ctx, args, Kind::Command, limit).await)
    }
}

pub struct Shell;

#[async_trait]
impl Module for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }
    fn free_form(&self) -> bool {
        true
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(COMMAND_PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        run_command(ctx, args, Kind::Shell).await
    }
    async fn launch_async(
        &self,
        ctx: &ModuleCtx<'_>,
        args: &Args,
        limit: u64,
    ) -> Option<Result<super::async_status::Launch, ModuleError>> {
        Some(launch_command(ctx, args, Kind::Shell, limit).await)
    }
}

/// `raw`: the text is the script (no prelude, no check-mode support, as in Ansible).
pub struct Raw;

#[async_trait]
impl Module for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }
    fn free_form(&self) -> bool {
        true
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&["_raw_params", "executable"])
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let text = args
            .raw_params()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| ModuleError::failed("no command given"))?;
        if ctx.check_mode {
            let mut o = Outcome {
                skipped: true,
                ..Default::default()
            };
            o.msg = Some("check mode not supported for raw".into());
            return Ok(o);
        }
        let script = match args.str("executable") {
            Some(exe) => {
                let mut s = Script::new();
                s.raw("exec ").arg(&exe).raw(" -c ").arg(&text);
                s.into_string()
            }
            None => text.clone(),
        };
        let start = SystemTime::now();
        let out = ctx.run(&script).await?;
        let end = SystemTime::now();
        let mut o = ran_outcome(
            Value::String(text),
            out.rc,
            &out.stdout,
            &out.stderr,
            false,
            start,
            end,
        );
        for k in ["cmd", "start", "end", "delta"] {
            o.data.shift_remove(k);
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_are_taken_out_of_free_form() {
        let (rest, found) =
            extract_special("creates=/opt/x /usr/bin/make install chdir=\"/src dir\"");
        assert_eq!(rest, "/usr/bin/make install");
        assert_eq!(
            found,
            vec![
                ("creates".into(), "/opt/x".into()),
                ("chdir".into(), "/src dir".into())
            ]
        );
        let (rest, found) = extract_special("echo 'creates=/x' FOO=bar");
        assert_eq!(rest, "echo 'creates=/x' FOO=bar");
        assert!(found.is_empty());
        let script = "if true; then\n  echo a\nfi\nremoves=/tmp/y";
        let (rest, found) = extract_special(script);
        assert_eq!(rest, "if true; then\n  echo a\nfi");
        assert_eq!(found, vec![("removes".into(), "/tmp/y".into())]);
    }

    #[test]
    fn spec_from_args() {
        let a = Args::new(
            serde_json::json!({"_raw_params": "ls -l chdir=/tmp", "creates": "/x"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let s = CmdSpec::from_args(&a, true).unwrap();
        assert_eq!(s.raw.as_deref(), Some("ls -l"));
        assert_eq!(s.chdir.as_deref(), Some("/tmp"));
        assert_eq!(s.creates.as_deref(), Some("/x"));
        let a = Args::new(
            serde_json::json!({"argv": ["echo", "a b"], "_raw_params": "x"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert!(CmdSpec::from_args(&a, true).is_err());
    }

    #[test]
    fn argument_vars() {
        assert_eq!(expand_word("plain"), "plain");
        assert_eq!(expand_word("a b"), "'a b'");
        assert_eq!(expand_word("$HOME/x"), "\"${HOME-\\$HOME}\"/x");
        assert_eq!(expand_word("~/x"), "\"$HOME\"/x");
        assert_eq!(expand_word("${A}b"), "\"${A-\\${A\\}}\"b");
        assert_eq!(expand_word("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(expand_word("$1x"), "'$1x'");
        assert_eq!(expand_word(""), "''");
    }

    #[test]
    fn home_paths() {
        assert_eq!(home_word("~/a b", crate::shell::quote), "\"$HOME\"/'a b'");
        assert_eq!(home_word("~", crate::shell::quote), "\"$HOME\"");
        assert_eq!(home_word("/x/*.log", shell_glob), "/x/*.log");
        assert_eq!(home_word("~/*.log", shell_glob), "\"$HOME\"/*.log");
    }

    #[test]
    fn gate_marker() {
        let (g, rest) = parse_gate(b"RDX:RUN\nhello\n");
        assert_eq!(g, Some(Gate::Run));
        assert_eq!(rest, b"hello\n");
        assert_eq!(parse_gate(b"RDX:CREATES\n").0, Some(Gate::Creates));
    }

    #[test]
    fn times() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(fmt_time(t), "2023-11-14 22:13:20.123456");
        assert_eq!(
            fmt_delta(std::time::Duration::from_millis(3723_500)),
            "1:02:03.500000"
        );
    }
}

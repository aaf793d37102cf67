//! `async_status` (`jid`, `mode: status|cleanup`) and the host side of `async` tasks.
//!
//! A job lives where ansible-core keeps it: `~/.ansible_async/<jid>` on the host (of the
//! task's become user), a JSON file replaced atomically (`.tmp` then `mv`). While the job
//! runs it holds `{"started": true, "finished": false, "ansible_job_id": JID}`; at the
//! end, the module's result (as ansible-core's async_wrapper writes it, without
//! `started`, so that `async_status` reports `finished`). Shell only on the host: the
//! job is started by [`launch`] under `setsid` (a session of its own: neither the end
//! of the request nor of the SSH channel reaches it), runs the module's command with its
//! output in files beside the job file, and a watchdog (`sleep` in a process group of
//! its own) kills the command's group when the `async` time is up and, one second later
//! (as ansible-core's async_wrapper), writes its `{"msg": "Timeout exceeded", "failed":
//! true, "child_pid": N}`. The command's output is
//! escaped into JSON by `awk` (trailing newlines stripped, as the command module does).
//!
//! `async_status` reads the file in one exchange and answers as ansible-core's action
//! plugin and module do: `started`/`finished` (booleans since 2.19), `ansible_job_id`,
//! `results_file` (or `erased` for cleanup), `stdout`/`stderr` and their `_lines`, and
//! the job's own keys; a missing file fails with "could not find job".

use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::{json, Map, Value};

/// A job started on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub jid: String,
    /// The absolute path of the job file on the host.
    pub results_file: String,
}

/// What a module's [`Module::launch_async`] did.
#[derive(Debug)]
pub enum Launch {
    /// The work runs in the background on the host.
    Started(Started),
    /// Nothing had to run in the background (`creates` found the file, ...): the
    /// module's result, known at once.
    Done(Outcome),
}

/// A new job id, in ansible-core's form (`j` and up to 12 digits; the host's shell
/// appends `.PID` as ansible-core's async_wrapper does).
pub fn new_jid_prefix() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the system's random source");
    format!("j{}", u64::from_le_bytes(b) % 999_999_999_999)
}

/// The job runner, `sh -c JOB rdeploy-async FILE LIMIT BODY CMD`: runs BODY (a shell
/// script) with the job's stdin file, kills it after LIMIT seconds, writes the result
/// JSON (CMD is the result's `cmd`, already JSON).
const JOB: &str = r#"f=$1; lim=$2; body=$3; cmd=$4
esc='BEGIN { for (i = 1; i < 32; i++) m[sprintf("%c", i)] = sprintf("\\u%04x", i); m["\t"] = "\\t"; m["\r"] = "\\r"; m["\""] = "\\\""; m["\\"] = "\\\\" }
function e(s,   o, k, c, n) { if (s !~ /[\\"[:cntrl:]]/) return s; o = ""; n = length(s); for (k = 1; k <= n; k++) { c = substr(s, k, 1); o = o ((c in m) ? m[c] : c) } return o }
{ l[NR] = $0 }
END { n = NR; while (n > 0 && l[n] ~ /^\r*$/) n--; if (n > 0) sub(/\r+$/, "", l[n]); for (i = 1; i <= n; i++) { if (i > 1) printf "\\n"; printf "%s", e(l[i]) } }'
inp=/dev/null; [ -e "$f.in" ] && inp=$f.in
t0=$(date +%s%N); s0=$(date '+%Y-%m-%d %H:%M:%S.%6N')
setsid /bin/sh -c "$body" <"$inp" >"$f.out" 2>"$f.err" &
c=$!
setsid /bin/sh -c 'sleep "$1"; : >"$2.timeout"; kill -KILL "-$3"; sleep 1' rd-async-watchdog "$lim" "$f" "$c" </dev/null >/dev/null 2>&1 &
w=$!
wait "$c"; rc=$?
[ -e "$f.timeout" ] && wait "$w"
kill -KILL "-$w" 2>/dev/null
t1=$(date +%s%N); s1=$(date '+%Y-%m-%d %H:%M:%S.%6N')
if [ -e "$f.timeout" ]; then
  printf '{"msg": "Timeout exceeded", "failed": true, "child_pid": %s}' "$c" >"$f.tmp"
else
  us=$(( (t1 - t0) / 1000 )); s=$((us / 1000000))
  d=$(printf '%d:%02d:%02d.%06d' $((s / 3600)) $((s / 60 % 60)) $((s % 60)) $((us % 1000000)))
  if [ "$rc" -eq 0 ]; then fl=false; m=; else fl=true; m='non-zero return code'; fi
  { printf '{"changed": true, "rc": %d, "cmd": %s, "start": "%s", "end": "%s", "delta": "%s", "failed": %s, "msg": "%s", "stdout": "' "$rc" "$cmd" "$s0" "$s1" "$d" "$fl" "$m"
    awk "$esc" "$f.out"; printf '", "stderr": "'; awk "$esc" "$f.err"; printf '"}'; } >"$f.tmp"
fi
mv -f "$f.tmp" "$f"
rm -f "$f.in" "$f.out" "$f.err" "$f.timeout"
"#;

/// The shell that makes the job directory and names the job file (`$rd_j`, `$rd_f`).
fn job_file(s: &mut Script, prefix: &str) {
    s.raw("rd_d=\"$HOME/.ansible_async\"\n")
        .raw("mkdir -p \"$rd_d\" || { echo \"could not create directory: $rd_d\" >&2; exit 1; }\n")
        .raw("rd_j=")
        .arg(prefix)
        .raw(".$$\nrd_f=\"$rd_d/$rd_j\"\n");
}

/// Appends to `s` the start of a background job running `body` (a shell script, in the
/// current directory and environment) for at most `limit` seconds; `cmd` is the
/// result's `cmd`. With `stdin`, the script's stdin becomes the command's. The script
/// then prints `RDX:JOB`, the job id and the job file, one per line.
pub fn launch(s: &mut Script, body: &str, limit: u64, cmd: &Value, stdin: bool) {
    job_file(s, &new_jid_prefix());
    s.raw("printf '{\"started\": true, \"finished\": false, \"ansible_job_id\": \"%s\"}' \"$rd_j\" >\"$rd_f.tmp\" && mv -f \"$rd_f.tmp\" \"$rd_f\" || exit 1\n");
    if stdin {
        s.raw("cat >\"$rd_f.in\" || exit 1\n");
    }
    s.raw("setsid /bin/sh -c ")
        .arg(JOB)
        .raw(" rdeploy-async \"$rd_f\" ")
        .arg(&limit.to_string())
        .raw(" ")
        .arg(body)
        .raw(" ")
        .arg(&cmd.to_string())
        .raw(" </dev/null >/dev/null 2>&1 &\n")
        .raw("printf 'RDX:JOB\\n%s\\n%s\\n' \"$rd_j\" \"$rd_f\"\n");
}

/// Reads what [`launch`]'s script printed after `RDX:JOB`.
pub fn parse_launch(stdout: &str) -> Option<Started> {
    let rest = &stdout[stdout.find("RDX:JOB\n")? + 8..];
    let mut lines = rest.lines();
    let jid = lines.next()?.to_string();
    let results_file = lines.next()?.to_string();
    Some(Started { jid, results_file })
}

/// Writes a finished job's result (a module that did its work in the foreground) as
/// the job file, so that `async_status` finds it like any other job.
pub async fn write_finished(
    ctx: &ModuleCtx<'_>,
    result: &Map<String, Value>,
) -> Result<Started, ModuleError> {
    let mut s = Script::new();
    job_file(&mut s, &new_jid_prefix());
    s.raw("cat >\"$rd_f.tmp\" && mv -f \"$rd_f.tmp\" \"$rd_f\" || exit 1\n")
        .raw("printf 'RDX:JOB\\n%s\\n%s\\n' \"$rd_j\" \"$rd_f\"\n");
    let body = Value::Object(result.clone()).to_string().into_bytes();
    let out = ctx.run_stdin(s.as_str(), Some(body)).await?;
    parse_launch(&out.stdout_str())
        .filter(|_| out.rc == 0)
        .ok_or_else(|| {
            ModuleError::failed(format!(
                "could not write the job file: {}",
                out.stderr_str().trim()
            ))
        })
}

/// The result of a job as `async_status` reports it (`text`: the job file, `None` when
/// there is none).
pub fn status_outcome(jid: &str, path: &str, text: Option<&str>) -> Outcome {
    let mut r = Map::new();
    r.insert("started".into(), json!(true));
    r.insert("finished".into(), json!(false));
    r.insert("stdout".into(), json!(""));
    r.insert("stderr".into(), json!(""));
    r.insert("stdout_lines".into(), json!([]));
    r.insert("stderr_lines".into(), json!([]));
    r.insert("ansible_job_id".into(), json!(jid));
    r.insert("results_file".into(), json!(path));
    let data: Map<String, Value> = match text {
        None => {
            let mut m = Map::new();
            m.insert("failed".into(), json!(true));
            m.insert("msg".into(), json!("could not find job"));
            m.insert("finished".into(), json!(true));
            m
        }
        Some(t) if t.trim().is_empty() => Map::new(),
        Some(t) => match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(mut m)) => {
                if !m.contains_key("started") {
                    m.insert("finished".into(), json!(true));
                    m.insert("ansible_job_id".into(), json!(jid));
                } else if !m.contains_key("finished") {
                    m.insert("finished".into(), json!(false));
                }
                m
            }
            _ => {
                let mut m = Map::new();
                m.insert("failed".into(), json!(true));
                m.insert("finished".into(), json!(true));
                m.insert(
                    "msg".into(),
                    json!(format!("Could not parse job output: {t}")),
                );
                m
            }
        },
    };
    let has = |k: &str| data.contains_key(k);
    let (out_lines, err_lines) = (!has("stdout_lines"), !has("stderr_lines"));
    for (k, v) in data {
        r.insert(k, v);
    }
    for (k, want) in [("stdout", out_lines), ("stderr", err_lines)] {
        if want {
            let lines: Vec<Value> = r[k]
                .as_str()
                .unwrap_or("")
                .lines()
                .map(|l| json!(l))
                .collect();
            r.insert(format!("{k}_lines"), Value::Array(lines));
        }
    }
    for k in ["started", "finished"] {
        let b = match &r[k] {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_i64() != Some(0),
            _ => false,
        };
        r.insert(k.into(), json!(b));
    }
    outcome_of(r)
}

/// A result map (as registered) turned back into an [`Outcome`].
pub fn outcome_of(mut r: Map<String, Value>) -> Outcome {
    let flag =
        |r: &mut Map<String, Value>, k: &str| matches!(r.shift_remove(k), Some(Value::Bool(true)));
    let changed = flag(&mut r, "changed");
    let failed = flag(&mut r, "failed");
    let skipped = flag(&mut r, "skipped");
    let msg = r
        .get("msg")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    Outcome {
        changed,
        failed,
        skipped,
        msg,
        data: r,
        ..Default::default()
    }
}

fn check_jid(jid: &str) -> Result<(), ModuleError> {
    if jid.is_empty() || jid.contains('/') || jid == "." || jid == ".." {
        return Err(ModuleError::failed(format!("invalid job id: {jid:?}")));
    }
    Ok(())
}

/// Reads job `jid` on the host (one exchange).
pub async fn status(ctx: &ModuleCtx<'_>, jid: &str) -> ModuleResult {
    check_jid(jid)?;
    let mut s = Script::new();
    s.raw("rd_f=\"$HOME/.ansible_async/\"")
        .arg(jid)
        .raw("\n")
        .raw("printf 'RDX:%s\\n' \"$rd_f\"\n")
        .raw("if [ -f \"$rd_f\" ]; then echo RDX:FOUND; cat \"$rd_f\"; else echo RDX:NONE; fi\n");
    let out = ctx.run(s.as_str()).await?;
    let text = out.stdout_str();
    let (path, rest) = text
        .strip_prefix("RDX:")
        .and_then(|t| t.split_once('\n'))
        .ok_or_else(|| {
            ModuleError::failed(format!(
                "could not read the job: {}",
                out.stderr_str().trim()
            ))
        })?;
    let file = rest.strip_prefix("RDX:FOUND\n");
    Ok(status_outcome(jid, path, file))
}

/// Removes job `jid`'s file (one exchange).
pub async fn cleanup(ctx: &ModuleCtx<'_>, jid: &str) -> ModuleResult {
    check_jid(jid)?;
    let mut s = Script::new();
    s.raw("rd_f=\"$HOME/.ansible_async/\"").arg(jid).raw("\n")
        .raw("if [ -f \"$rd_f\" ]; then rm -f \"$rd_f\" && printf 'RDX:ERASED\\n%s\\n' \"$rd_f\"; else printf 'RDX:NONE\\n%s\\n' \"$rd_f\"; fi\n");
    let out = ctx.run(s.as_str()).await?;
    let text = out.stdout_str();
    let mut lines = text.lines();
    let mark = lines.next().unwrap_or_default();
    let path = lines.next().unwrap_or_default().to_string();
    let mut o = Outcome::ok()
        .with("ansible_job_id", jid)
        .with("started", false)
        .with("finished", false)
        .with("stdout", "")
        .with("stderr", "")
        .with("stdout_lines", json!([]))
        .with("stderr_lines", json!([]));
    match mark {
        "RDX:ERASED" => Ok(o.with("erased", path)),
        _ => {
            o.failed = true;
            o.msg = Some("could not find job".into());
            Ok(o.with("msg", "could not find job")
                .with("erased", path)
                .with("started", true)
                .with("finished", true))
        }
    }
}

pub struct AsyncStatus;

#[async_trait]
impl Module for AsyncStatus {
    fn name(&self) -> &'static str {
        "async_status"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(&["jid", "mode"])
    }
    fn spec(&self) -> &'static [super::Param] {
        &[
            super::Param {
                name: "jid",
                default: None,
                choices: &[],
                required: true,
            },
            super::Param {
                name: "mode",
                default: Some("status"),
                choices: &["status", "cleanup"],
                required: false,
            },
        ]
    }
    fn returns(&self) -> &'static [&'static str] {
        &[
            "ansible_job_id",
            "started",
            "finished",
            "results_file",
            "erased",
            "stdout",
            "stderr",
            "stdout_lines",
            "stderr_lines",
        ]
    }
    /// Reads the job in check mode too (ansible-core: check_mode support full).
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let jid = args
            .str("jid")
            .ok_or_else(|| ModuleError::failed("missing required arguments: jid"))?;
        match args.str("mode").as_deref().unwrap_or("status") {
            "status" => status(ctx, &jid).await,
            "cleanup" => cleanup(ctx, &jid).await,
            other => Err(ModuleError::failed(format!(
                "value of mode must be one of: status, cleanup, got: {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_a_finished_job_as_ansible_reports_it() {
        let o = status_outcome(
            "j1.2",
            "/root/.ansible_async/j1.2",
            Some(
                r#"{"changed": true, "rc": 0, "stdout": "a\nb", "stderr": "", "failed": false, "msg": ""}"#,
            ),
        );
        assert!(o.changed && !o.failed);
        assert_eq!(o.data["finished"], json!(true));
        assert_eq!(o.data["started"], json!(true));
        assert_eq!(o.data["ansible_job_id"], json!("j1.2"));
        assert_eq!(o.data["stdout_lines"], json!(["a", "b"]));
        assert_eq!(o.data["results_file"], json!("/root/.ansible_async/j1.2"));
    }

    #[test]
    fn running_missing_and_garbled_jobs() {
        let running = r#"{"started": true, "finished": false, "ansible_job_id": "j1.2"}"#;
        let o = status_outcome("j1.2", "/p", Some(running));
        assert_eq!(
            (o.data["started"].clone(), o.data["finished"].clone()),
            (json!(true), json!(false))
        );
        assert!(!o.failed && !o.changed);
        let o = status_outcome("j1.2", "/p", Some(""));
        assert_eq!(o.data["finished"], json!(false));
        let o = status_outcome("j1.2", "/p", None);
        assert!(o.failed);
        assert_eq!(o.msg.as_deref(), Some("could not find job"));
        let o = status_outcome("j1.2", "/p", Some("{oops"));
        assert!(o.failed && o.data["finished"] == json!(true));
        let o = status_outcome(
            "j",
            "/p",
            Some(r#"{"msg": "Timeout exceeded", "failed": true, "child_pid": 7}"#),
        );
        assert!(o.failed && o.data["finished"] == json!(true) && o.data["child_pid"] == json!(7));
    }

    #[test]
    fn job_ids_look_like_ansible_cores() {
        let p = new_jid_prefix();
        assert!(
            p.starts_with('j') && p[1..].bytes().all(|b| b.is_ascii_digit()),
            "{p}"
        );
        assert!(check_jid("../x").is_err() && check_jid("j1.2").is_ok());
    }

    /// The job runner itself, on this machine's /bin/sh: output with quotes, tabs,
    /// backslashes and a control character comes back as the JSON of the same text.
    #[test]
    fn the_job_runner_writes_json_of_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("j");
        let body = "printf 'a \"q\" \\\\ \\t x\\033[0m\\n\\nline2\\r\\n\\n'; echo err >&2; exit 3";
        let st = std::process::Command::new("/bin/sh")
            .args([
                "-c",
                JOB,
                "rdeploy-async",
                f.to_str().unwrap(),
                "10",
                body,
                "\"echo\"",
            ])
            .status()
            .unwrap();
        assert!(st.success());
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(v["stdout"], json!("a \"q\" \\ \t x\u{1b}[0m\n\nline2"));
        assert_eq!(v["stderr"], json!("err"));
        assert_eq!(v["rc"], json!(3));
        assert_eq!(v["failed"], json!(true));
        assert_eq!(v["cmd"], json!("echo"));
        assert!(v["delta"].as_str().unwrap().starts_with("0:00:0"));
        assert!(!dir.path().join("j.out").exists());
    }

    #[test]
    fn the_job_runner_kills_a_job_that_runs_too_long() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("j");
        let marker = dir.path().join("late");
        let body = format!("sleep 5; touch {}", marker.display());
        let t = std::time::Instant::now();
        let st = std::process::Command::new("/bin/sh")
            .args([
                "-c",
                JOB,
                "rdeploy-async",
                f.to_str().unwrap(),
                "1",
                &body,
                "\"x\"",
            ])
            .status()
            .unwrap();
        assert!(st.success());
        assert!(t.elapsed() < std::time::Duration::from_secs(4));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(v["msg"], json!("Timeout exceeded"));
        assert_eq!(v["failed"], json!(true));
        std::thread::sleep(std::time::Duration::from_secs(5));
        assert!(!marker.exists(), "the killed job went on");
    }
}

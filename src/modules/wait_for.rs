//! The `wait_for` module: waits ON THE HOST, in one exchange, for a TCP port to accept
//! (or refuse, or drain) connections, for a file to appear (optionally containing a
//! regex) or disappear, or simply for `timeout` seconds. The loop is a shell script
//! bounded by `timeout`; ports are probed with bash's `/dev/tcp` (or `nc` when bash is
//! missing), connections counted from `/proc/net/tcp*`.

use super::util::sections;
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;

pub struct WaitFor;

const PARAMS: &[&str] = &[
    "host",
    "port",
    "path",
    "state",
    "search_regex",
    "exclude_hosts",
    "delay",
    "timeout",
    "sleep",
    "connect_timeout",
    "active_connection_states",
    "msg",
];

const BODY: &str = r#"
rd_start=$(date +%s)
rd_g="grep -E"
if printf 'x\n' | grep -qP 'x' 2>/dev/null; then rd_g="grep -P"; fi
if [ -n "$rd_port" ]; then
  if command -v bash >/dev/null 2>&1; then
    rd_probe() { timeout "$rd_ct" bash -c 'exec 3<>"/dev/tcp/$1/$2"' rd "$rd_host" "$rd_port" >/dev/null 2>&1; }
    rd_read() {
      timeout "$rd_ct" bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 2
        while IFS= read -r l <&3 || [ -n "$l" ]; do
          printf "%s\n" "$l" | $4 -q -- "$3" && exit 0
          l=
        done; exit 1' rd "$rd_host" "$rd_port" "$rd_regex" "$rd_g" 2>/dev/null
    }
  elif command -v nc >/dev/null 2>&1; then
    rd_probe() { nc -z -w "$rd_ct" "$rd_host" "$rd_port" >/dev/null 2>&1; }
    rd_read() { nc -w "$rd_ct" "$rd_host" "$rd_port" </dev/null 2>/dev/null | $rd_g -q -- "$rd_regex"; }
  else
    echo "wait_for: neither bash nor nc is installed on the host: cannot probe TCP ports" >&2; exit 96
  fi
fi
rd_conns() { # established connections to local port $rd_port
  rd_hex=$(printf '%04X' "$rd_port")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$rd_hex" -v states="$rd_states" '
    NR > 0 && $2 ~ p"$" { split(states, s, " "); for (i in s) if ($4 == s[i]) n++ } END { print n + 0 }'
}
rd_check() {
  if [ -n "$rd_path" ]; then
    case "$rd_state" in
      absent|stopped) [ ! -e "$rd_path" ];;
      *) [ -e "$rd_path" ] && { [ -z "$rd_regex" ] || $rd_g -q -- "$rd_regex" "$rd_path" 2>/dev/null; };;
    esac
  elif [ -n "$rd_port" ]; then
    case "$rd_state" in
      stopped|absent) ! rd_probe;;
      drained) [ "$(rd_conns)" = 0 ];;
      *) if [ -n "$rd_regex" ]; then rd_read; else rd_probe; fi;;
    esac
  else
    return 1
  fi
}
[ "$rd_delay" -gt 0 ] && sleep "$rd_delay"
if [ -z "$rd_path" ] && [ -z "$rd_port" ]; then
  sleep "$rd_timeout"; echo "@@RD ok"
else
  rd_n=0
  while :; do
    if rd_check; then echo "@@RD ok"; break; fi
    rd_now=$(date +%s)
    if [ $((rd_now - rd_start)) -ge "$rd_timeout" ]; then echo "@@RD timeout"; break; fi
    rd_n=$((rd_n + 1))
    sleep "$rd_sleep"
  done
fi
echo "@@RD elapsed $(( $(date +%s) - rd_start ))"
"#;

#[async_trait]
impl Module for WaitFor {
    fn name(&self) -> &'static str {
        "wait_for"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("wait_for", PARAMS)?;
        let host = args.str("host").unwrap_or_else(|| "127.0.0.1".into());
        let port = args.int("port")?;
        let path = args.str("path");
        let state = args.str("state").unwrap_or_else(|| "started".into());
        if !matches!(
            state.as_str(),
            "started" | "present" | "stopped" | "absent" | "drained"
        ) {
            return Err(ModuleError::failed(format!(
                "wait_for: value of state must be one of: absent, drained, present, started, stopped, got: {state}"
            )));
        }
        if port.is_some() && path.is_some() {
            return Err(ModuleError::failed(
                "wait_for: port and path parameter can not both be passed to wait_for",
            ));
        }
        if path.is_some() && state == "drained" {
            return Err(ModuleError::failed("wait_for: state=drained should only be used for checking a port in the wait_for module"));
        }
        if let Some(p) = port {
            if !(1..=65535).contains(&p) {
                return Err(ModuleError::failed(format!(
                    "wait_for: port {p} is out of range"
                )));
            }
        }
        let regex = args.str("search_regex").unwrap_or_default();
        if !regex.is_empty()
            && port.is_some()
            && matches!(state.as_str(), "stopped" | "absent" | "drained")
        {
            return Err(ModuleError::failed(
                "wait_for: search_regex is only valid with state started/present",
            ));
        }
        let timeout = args.int("timeout")?.unwrap_or(300).max(0);
        let delay = args.int("delay")?.unwrap_or(0).max(0);
        let sleep = args.float("sleep")?.unwrap_or(1.0).max(0.05);
        let ct = args.int("connect_timeout")?.unwrap_or(5).max(1);
        // TCP states in /proc/net/tcp hex codes; default as Ansible: ESTABLISHED, FIN_WAIT1,
        // FIN_WAIT2, SYN_RECV, SYN_SENT, TIME_WAIT.
        let states: Vec<&str> = match args.list("active_connection_states") {
            Some(l) => l
                .iter()
                .filter_map(|s| match s.to_uppercase().as_str() {
                    "ESTABLISHED" => Some("01"),
                    "SYN_SENT" => Some("02"),
                    "SYN_RECV" => Some("03"),
                    "FIN_WAIT1" => Some("04"),
                    "FIN_WAIT2" => Some("05"),
                    "TIME_WAIT" => Some("06"),
                    "CLOSE" => Some("07"),
                    "CLOSE_WAIT" => Some("08"),
                    "LAST_ACK" => Some("09"),
                    "LISTEN" => Some("0A"),
                    "CLOSING" => Some("0B"),
                    _ => None,
                })
                .collect(),
            None => vec!["01", "04", "05", "03", "02", "06"],
        };
        let mut s = Script::new();
        s.raw("LC_ALL=C; export LC_ALL\n");
        s.assign("rd_host", &host).raw("\n");
        s.assign("rd_port", &port.map(|p| p.to_string()).unwrap_or_default())
            .raw("\n");
        s.assign("rd_path", path.as_deref().unwrap_or("")).raw("\n");
        s.assign("rd_state", &state).raw("\n");
        s.assign("rd_regex", &regex).raw("\n");
        s.assign("rd_timeout", &timeout.to_string()).raw("\n");
        s.assign("rd_delay", &delay.to_string()).raw("\n");
        s.assign("rd_sleep", &format!("{sleep}")).raw("\n");
        s.assign("rd_ct", &ct.to_string()).raw("\n");
        s.assign("rd_states", &states.join(" ")).raw("\n");
        s.raw(BODY);
        let out = ctx.run(s.as_str()).await?;
        let stdout = out.stdout_str();
        if out.rc == 96 {
            return Err(ModuleError::failed(out.stderr_str().trim().to_string()));
        }
        let secs = sections(&stdout);
        let elapsed: i64 = secs
            .iter()
            .find_map(|(n, _)| n.strip_prefix("elapsed ").and_then(|e| e.parse().ok()))
            .unwrap_or(0);
        let ok = secs.iter().any(|(n, _)| n == "ok");
        let mut o = Outcome::ok()
            .with("elapsed", elapsed)
            .with("state", state.clone());
        if let Some(p) = port {
            o = o.with("port", p);
        }
        if let Some(p) = &path {
            o = o.with("path", p.clone());
        }
        if !regex.is_empty() {
            o = o
                .with("search_regex", regex.clone())
                .with("match_groups", serde_json::json!([]))
                .with("match_groupdict", serde_json::json!({}));
        }
        if ok {
            return Ok(o);
        }
        if !secs.iter().any(|(n, _)| n == "timeout") {
            return Err(ModuleError::failed(format!(
                "wait_for: the wait script failed (rc={}): {}",
                out.rc,
                out.stderr_str().trim()
            )));
        }
        let target = port.map(|p| format!("{host}:{p}"));
        let msg = args
            .str("msg")
            .unwrap_or_else(|| match (&path, &target, state.as_str()) {
                (Some(p), _, "absent" | "stopped") => {
                    format!("Timeout when waiting for {p} to be absent.")
                }
                (Some(p), _, _) if !regex.is_empty() => {
                    format!("Timeout when waiting for search string {regex} in {p}")
                }
                (Some(p), _, _) => format!("Timeout when waiting for file {p}"),
                (None, Some(t), "stopped" | "absent") => {
                    format!("Timeout when waiting for {t} to stop.")
                }
                (None, Some(t), "drained") => format!("Timeout when waiting for {t} to drain"),
                (None, Some(t), _) if !regex.is_empty() => {
                    format!("Timeout when waiting for search string {regex} in {t}")
                }
                (None, Some(t), _) => format!("Timeout when waiting for {t}"),
                _ => "Timeout".into(),
            });
        o.failed = true;
        o.msg = Some(msg);
        Ok(o)
    }
}

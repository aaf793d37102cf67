//! The persistent shell: one `sh` per host connection (and per become identity), started
//! once on an exec channel without a pty and kept for the whole run, so that a request
//! costs no channel open, no sshd session setup and no sudo start.
//!
//! Protocol: the channel runs [`DRIVER`], a `sh` that reads its commands from stdin.
//! - start: the controller sends the become password line, if any (read byte by byte
//!   by [`wrap_become`](super::wrap_become)'s outer shell), then the driver's setup
//!   ([`prelude`]): a random marker in an unexported variable, a check of its tools, the
//!   request function `rd_r`. The driver answers `M:ready`.
//! - a request: one command line `rd_r ID TIMEOUT MODE OUT 'SCRIPT' ['STDIN']`, every
//!   value single-quoted; OUT is `f` (output spooled to files) or `d` (direct, see
//!   below). The shell reads commands in blocks, so nothing is ever sent behind a
//!   request line until its answer: stdin of up to [`INLINE_STDIN_MAX`] bytes without
//!   NUL is a word of the line itself (MODE `=`, written to the spool file by the
//!   `printf` builtin); other stdin (MODE = its length) is sent only once the driver
//!   has printed `M:go:ID`, and read by GNU `head -c` (which never reads more than
//!   asked). The script is written to a file by `printf` and run as `setsid /bin/sh
//!   FILE <STDIN >OUT 2>ERR`: its own process (exit, exec, cd and variables stay there;
//!   `$$` and `$PPID` as in a shell of its own), its own session and process group (a
//!   `kill 0` cannot reach the driver; a timeout kills the whole group), stdin a file
//!   (read to EOF at will), output to files (a background process that keeps them open
//!   cannot hold the frame). A request with a timeout runs in the background with a
//!   watchdog (`sleep` in a process group of its own, killed as a group when the
//!   request ends first). Per request the host starts one process (`setsid` exec'ing
//!   `sh`) and a `cat` per non-empty output; more only for binary or large stdin.
//!   Requests of rdeploy's own module scripts ([`ScriptKind::Own`], OUT `d`: they leave
//!   no process behind) write to the channel itself (no files, no `cat`) and, without a
//!   timeout, run in a subshell of the driver that sources the script: a fork, no exec
//!   (the driver's variables, the marker first, and its arguments are unset in it).
//! - the answer: the request's stdout then `M:ID:RC\n` (or `M:ID:RCT\n` when the driver's
//!   watchdog killed it) on stdout, its stderr then `M:ID\n` on stderr. The marker is
//!   never given to requests, so no output can forge a frame end.
//!
//! A shell that cannot start (server refuses the channel, no `sh`, no GNU `head`,
//! become refused) is reported as a [`StartError`]; the connection then uses one
//! channel per request (see `russh_conn`).

use super::{wrap_become, Become, ExecOutput, ScriptKind};
use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

/// The command the channel runs (under sudo/su for a become identity): a shell that
/// reads its commands from stdin, i.e. [`prelude`] and then one line per request.
pub const DRIVER: &str = "exec /bin/sh -s";

/// Requests with at most this many bytes of stdin and no NUL byte carry it inside their
/// command line (written to the spool file by the `printf` builtin: no process, no
/// round trip); larger or binary stdin is read by `head -c` after a `go` line.
pub const INLINE_STDIN_MAX: usize = 256 << 10;

/// The driver's setup, the first text the shell reads: checks its tools, keeps the
/// marker in an unexported variable (requests are fresh `/bin/sh` processes: they never
/// see it), defines `rd_r` and answers `M:ready`.
fn prelude(marker: &str) -> String {
    format!("M={marker}\n{PRELUDE}")
}

const PRELUDE: &str = r#"rd_fail() { printf '%s:nocap:%s\n' "$M" "$1"; exit 0; }
command -v setsid >/dev/null 2>&1 || rd_fail setsid
head --version 2>/dev/null | grep -q GNU || rd_fail 'GNU head'
d=$(mktemp -d 2>/dev/null) || rd_fail mktemp
trap 'rm -rf "$d"' EXIT
trap 'exit 1' HUP INT TERM PIPE
n=0
rd_r() {
  n=$((n + 1))
  if [ "$n" -ge 64 ]; then rm -f "$d"/r.*; n=0; fi
  f="$d/r.$1"
  printf '%s' "$5" >"$f.s"
  case $3 in
    -) i=/dev/null ;;
    =) printf '%s' "$6" >"$f.i"; i="$f.i" ;;
    *) printf '%s:go:%s\n' "$M" "$1"; head -c "$3" >"$f.i" || exit 1; i="$f.i" ;;
  esac
  if [ "$4" = d ]; then exec 3>&1 4>&2; else exec 3>"$f.o" 4>"$f.e"; fi
  t=
  if [ "$2" = 0 ] && [ "$4" = d ]; then
    (s=$f.s; set --; unset M d f i n t; . "$s") <"$i" >&3 2>&4 3>&- 4>&-
    rc=$?
  elif [ "$2" = 0 ]; then
    setsid /bin/sh "$f.s" <"$i" >&3 2>&4 3>&- 4>&-
    rc=$?
  else
    setsid /bin/sh "$f.s" <"$i" >&3 2>&4 3>&- 4>&- &
    p=$!
    setsid /bin/sh -c 'sleep "$1" && : >"$3" && kill -KILL "-$2"' rd-watchdog "$2" "$p" "$f.t" </dev/null >/dev/null 2>&1 3>&- 4>&- &
    w=$!
    wait "$p"
    rc=$?
    { kill -KILL "-$w" || { kill -KILL "$w"; kill -KILL "-$w"; }; wait "$w"; } 2>/dev/null
    if [ -e "$f.t" ]; then t=T; fi
  fi
  exec 3>&- 4>&-
  if [ "$i" != /dev/null ]; then : >"$f.i"; fi
  if [ "$4" != d ] && [ -s "$f.o" ]; then cat "$f.o"; fi
  printf '%s:%s:%s%s\n' "$M" "$1" "$rc" "$t"
  if [ "$4" != d ] && [ -s "$f.e" ]; then cat "$f.e" >&2; fi
  printf '%s:%s\n' "$M" "$1" >&2
}
printf '%s:ready\n' "$M"
"#;

/// Why a persistent shell could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The server refused a new channel (e.g. `MaxSessions` reached).
    #[error("the server refused a channel: {0}")]
    Refused(String),
    /// The channel opened but no driver came up (no `sh`, missing tools, become failed).
    #[error("{0}")]
    NoShell(String),
}

/// Why a request on a persistent shell has no complete answer.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The shell ended (or the channel failed) before the answer was complete.
    #[error("the persistent shell ended: {0}")]
    Dead(String),
}

/// What one request produced.
#[derive(Debug)]
pub struct Answer {
    pub out: ExecOutput,
    /// The driver's watchdog killed the request's process group.
    pub timed_out: bool,
}

/// One running driver on its own channel. Dropping it closes the channel.
pub struct Shell {
    reader: ChannelReadHalf,
    writer: Option<ChannelWriteHalf<Msg>>,
    marker: String,
    next_id: u64,
    _permit: OwnedSemaphorePermit,
}

/// A fresh 128-bit marker, in hex.
fn new_marker() -> String {
    use sha2::{Digest, Sha256};
    let mut seed = [0u8; 16];
    let got = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed));
    if got.is_err() {
        // No /dev/urandom: a hash of values that differ between connections.
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mut h = Sha256::new();
        h.update(format!("{:?}", std::time::SystemTime::now()));
        h.update(std::process::id().to_le_bytes());
        h.update(
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .to_le_bytes(),
        );
        h.update(format!("{:p}", &seed));
        seed.copy_from_slice(&h.finalize()[..16]);
    }
    format!("RDM{}", hex::encode(seed))
}

/// Finds `pat` in `buf`; returns its start.
fn find(buf: &[u8], pat: &[u8]) -> Option<usize> {
    buf.windows(pat.len()).position(|w| w == pat)
}

impl Shell {
    /// Opens a channel and starts the driver (as the become identity, if any).
    pub async fn start(
        handle: &russh::client::Handle<super::russh_conn::Client>,
        permit: OwnedSemaphorePermit,
        become_: Option<&Become>,
        wait: Duration,
    ) -> Result<Shell, StartError> {
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| StartError::Refused(e.to_string()))?;
        let (command, prefix) = wrap_become(DRIVER, become_);
        channel
            .exec(true, command.as_bytes())
            .await
            .map_err(|e| StartError::NoShell(format!("sending the command: {e}")))?;
        let (reader, writer) = channel.split();
        let marker = new_marker();
        let mut shell = Shell {
            reader,
            writer: Some(writer),
            marker,
            next_id: 1,
            _permit: permit,
        };
        let mut first = prefix;
        first.extend_from_slice(prelude(&shell.marker).as_bytes());
        shell
            .send(&first)
            .await
            .map_err(|e| StartError::NoShell(e.to_string()))?;
        match tokio::time::timeout(wait, shell.wait_ready()).await {
            Ok(r) => r.map(|_| shell),
            Err(_) => Err(StartError::NoShell(format!(
                "no answer from the shell within {wait:?}"
            ))),
        }
    }

    async fn send(&self, data: &[u8]) -> Result<(), ShellError> {
        let w = self
            .writer
            .as_ref()
            .ok_or_else(|| ShellError::Dead("closed".into()))?;
        w.data(data)
            .await
            .map_err(|e| ShellError::Dead(format!("writing to it: {e}")))
    }

    async fn wait_ready(&mut self) -> Result<(), StartError> {
        let ready = format!("{}:ready\n", self.marker);
        let nocap = format!("{}:nocap:", self.marker);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        loop {
            match self.reader.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    out.extend_from_slice(&data);
                    if find(&out, ready.as_bytes()).is_some() {
                        return Ok(());
                    }
                    if let Some(i) = find(&out, nocap.as_bytes()) {
                        let rest = String::from_utf8_lossy(&out[i + nocap.len()..]);
                        return Err(StartError::NoShell(format!(
                            "the host has no {}",
                            rest.trim()
                        )));
                    }
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => err.extend_from_slice(&data),
                Some(ChannelMsg::Failure) => {
                    return Err(StartError::NoShell(
                        "the server refused to run the shell".into(),
                    ))
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    return Err(StartError::NoShell(format!(
                        "the shell exited with {exit_status}: {}",
                        String::from_utf8_lossy(&err).trim()
                    )))
                }
                Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                    return Err(StartError::NoShell(format!(
                        "the shell ended: {}",
                        String::from_utf8_lossy(&err).trim()
                    )))
                }
                Some(_) => {}
            }
        }
    }

    /// The request's command line for the driver: `rd_r ID TIMEOUT MODE OUT 'SCRIPT'
    /// ['STDIN']`, MODE `-` (no stdin), `=` (stdin inline, the next word) or its length
    /// in bytes (sent after the driver's `go` line); OUT `f` (spooled) or `d` (direct).
    fn request(
        id: u64,
        script: &str,
        stdin: &[u8],
        timeout: Option<Duration>,
        kind: ScriptKind,
    ) -> Vec<u8> {
        let to = match timeout {
            // GNU sleep takes fractions; never 0 (which means "no timeout").
            Some(t) => format!("{:.3}", t.as_secs_f64().max(0.001)),
            None => "0".into(),
        };
        let mode = match (stdin.is_empty(), inline_stdin(stdin)) {
            (true, _) => "-".to_string(),
            (false, true) => "=".to_string(),
            (false, false) => stdin.len().to_string(),
        };
        let out = match kind {
            ScriptKind::Any => 'f',
            ScriptKind::Own => 'd',
        };
        let mut line = format!("rd_r {id} {to} {mode} {out} ").into_bytes();
        quote_bytes(&mut line, script.as_bytes());
        if mode == "=" {
            line.push(b' ');
            quote_bytes(&mut line, stdin);
        }
        line.push(b'\n');
        line
    }

    /// Runs one request and waits for its whole answer. The future may be dropped
    /// (the caller's timeout): the shell is then in an unknown state and must be
    /// finished with [`Shell::finish`] or dropped.
    pub async fn run(
        &mut self,
        script: &str,
        stdin: &[u8],
        timeout: Option<Duration>,
        kind: ScriptKind,
    ) -> Result<Answer, ShellError> {
        let id = self.next_id;
        self.next_id += 1;
        let line = Self::request(id, script, stdin, timeout, kind);
        // Binary or large stdin goes after the driver's `go` line, once the shell has
        // read its whole command line (it reads commands in blocks: anything sent with
        // the line could end up in its buffer instead of the request's stdin).
        let mut go: Option<Vec<u8>> = (!stdin.is_empty() && !inline_stdin(stdin))
            .then(|| format!("{}:go:{id}\n", self.marker).into_bytes());
        let writer = self
            .writer
            .as_ref()
            .ok_or_else(|| ShellError::Dead("closed".into()))?;
        writer
            .data(&line[..])
            .await
            .map_err(|e| ShellError::Dead(format!("writing to it: {e}")))?;
        let feed = async {
            if !stdin.is_empty() {
                writer
                    .data(stdin)
                    .await
                    .map_err(|e| ShellError::Dead(format!("writing to it: {e}")))?;
            }
            Ok::<(), ShellError>(())
        };
        tokio::pin!(feed);
        // Set false when the driver asks for the stdin bytes.
        let mut fed = true;
        let out_end = format!("{}:{id}:", self.marker).into_bytes();
        let err_end = format!("{}:{id}\n", self.marker).into_bytes();
        let reader = &mut self.reader;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut status: Option<(usize, i32, bool)> = None;
        let mut err_at: Option<usize> = None;
        loop {
            if let (Some((at, rc, t)), Some(e)) = (status, err_at) {
                out.truncate(at);
                err.truncate(e);
                return Ok(Answer {
                    out: ExecOutput {
                        rc,
                        stdout: out,
                        stderr: err,
                    },
                    timed_out: t,
                });
            }
            let msg = tokio::select! {
                r = &mut feed, if !fed => { r?; fed = true; continue; }
                m = reader.wait() => m,
            };
            match msg {
                Some(ChannelMsg::Data { data }) if status.is_none() => {
                    let from = out.len().saturating_sub(out_end.len() + 16);
                    out.extend_from_slice(&data);
                    if let Some(g) = &go {
                        // Nothing comes before it: the request has not started yet.
                        if let Some(i) = find(&out, g) {
                            out.drain(..i + g.len());
                            go = None;
                            fed = false;
                        }
                        continue;
                    }
                    status = parse_status(&out, from, &out_end);
                }
                Some(ChannelMsg::ExtendedData { data, .. }) if err_at.is_none() => {
                    let from = err.len().saturating_sub(err_end.len());
                    err.extend_from_slice(&data);
                    err_at = find(&err[from..], &err_end).map(|i| i + from);
                }
                Some(ChannelMsg::Data { .. } | ChannelMsg::ExtendedData { .. }) => {}
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    return Err(ShellError::Dead(format!("it exited with {exit_status}")))
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    return Err(ShellError::Dead(format!(
                        "it was killed by {signal_name:?}"
                    )))
                }
                Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                    return Err(ShellError::Dead("its channel was closed".into()))
                }
                Some(_) => {}
            }
        }
    }

    /// Whether an idle shell is still there: nothing but window updates may have come
    /// since its last answer.
    pub fn is_alive(&mut self) -> bool {
        use futures::FutureExt;
        loop {
            match self.reader.wait().now_or_never() {
                None => return self.writer.is_some(),
                Some(Some(ChannelMsg::WindowAdjusted { .. })) => {}
                Some(_) => return false,
            }
        }
    }

    /// Closes the channel (the driver sees EOF, removes its temp dir and exits).
    pub async fn close(mut self) {
        if let Some(w) = self.writer.take() {
            let _ = w.eof().await;
            let _ = w.close().await;
        }
    }
}

/// Whether a request's stdin travels inside its command line.
fn inline_stdin(stdin: &[u8]) -> bool {
    stdin.len() <= INLINE_STDIN_MAX && !stdin.contains(&0)
}

/// Appends `bytes` single-quoted for `sh` (any byte but NUL stays as it is).
fn quote_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'\'');
    for &b in bytes {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
}

/// `M:ID:RC[T]\n` in `buf` (searched from `from`): (start, rc, timed out).
fn parse_status(buf: &[u8], from: usize, end: &[u8]) -> Option<(usize, i32, bool)> {
    let at = find(&buf[from..], end)? + from;
    let rest = &buf[at + end.len()..];
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let text = std::str::from_utf8(&rest[..nl]).ok()?;
    let (num, t) = match text.strip_suffix('T') {
        Some(n) => (n, true),
        None => (text, false),
    };
    Some((at, num.parse().unwrap_or(-1), t))
}

impl Drop for Shell {
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = w.eof().await;
                    let _ = w.close().await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_differ_and_are_long() {
        let (a, b) = (new_marker(), new_marker());
        assert_ne!(a, b);
        assert_eq!(a.len(), 35);
    }

    #[test]
    fn status_lines_are_found_across_output() {
        let buf = b"out without newlineM:7:3T\n";
        assert_eq!(parse_status(buf, 0, b"M:7:"), Some((19, 3, true)));
        assert_eq!(parse_status(b"xM:7:0\n", 0, b"M:7:"), Some((1, 0, false)));
        assert_eq!(parse_status(b"xM:7:0", 0, b"M:7:"), None);
    }

    #[test]
    fn request_lines_quote_and_pick_the_stdin_mode() {
        let line = |s: &str, i: &[u8], t| {
            String::from_utf8(Shell::request(3, s, i, t, ScriptKind::Any)).unwrap()
        };
        assert_eq!(
            line("echo 'a b'", b"", None),
            "rd_r 3 0 - f 'echo '\\''a b'\\'''\n"
        );
        assert_eq!(
            line("cat", b"x'y\n", Some(Duration::from_millis(300))),
            "rd_r 3 0.300 = f 'cat' 'x'\\''y\n'\n"
        );
        assert_eq!(line("cat", b"a\0b", None), "rd_r 3 0 3 f 'cat'\n");
        let big = vec![b'x'; INLINE_STDIN_MAX + 1];
        assert_eq!(
            line("cat", &big, None),
            format!("rd_r 3 0 {} f 'cat'\n", big.len())
        );
        assert_eq!(
            String::from_utf8(Shell::request(4, "id", b"", None, ScriptKind::Own)).unwrap(),
            "rd_r 4 0 - d 'id'\n"
        );
    }
}

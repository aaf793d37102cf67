//! The persistent shell: one `sh` per host connection (and per become identity), started
//! once on an exec channel without a pty and kept for the whole run, so that a request
//! costs no channel open, no sshd session setup and no sudo start.
//!
//! Protocol (the driver is [`DRIVER`], passed on the exec command line, so the shell
//! never reads commands from its stdin and cannot read past them):
//! - start: the controller sends the become password line, if any (read by
//!   [`wrap_become`](super::wrap_become)'s outer shell), then a random marker line, kept
//!   in an unexported variable. The driver checks its tools and answers `M:ready`.
//! - a request: a header `ID SCRIPT_LEN STDIN_LEN TIMEOUT\n`, then exactly SCRIPT_LEN
//!   bytes of script and STDIN_LEN bytes of stdin. The driver reads the header with the
//!   `read` builtin (byte by byte) and the bytes with GNU `head -c` (which never reads
//!   more than asked) into temp files, then runs `setsid /bin/sh SCRIPT <STDIN >OUT
//!   2>ERR`: its own process (exit, exec, cd and variables stay there), its own process
//!   group (a timeout kills the whole group), stdin a file (read to EOF at will), output
//!   to files (a background process that keeps them open cannot hold the frame). A
//!   request with a timeout gets a watchdog (`sleep` in a process group of its own,
//!   killed as a group when the request ends first).
//! - the answer: the request's stdout then `M:ID:RC\n` (or `M:ID:RCT\n` when the driver's
//!   watchdog killed it) on stdout, its stderr then `M:ID\n` on stderr. The marker is
//!   never given to requests, so no output can forge a frame end.
//!
//! A shell that cannot start (server refuses the channel, no `sh`, no GNU `head`,
//! become refused) is reported as a [`StartError`]; the connection then uses one
//! channel per request (see `russh_conn`).

use super::{wrap_become, Become, ExecOutput};
use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

/// The driver loop, run as `/bin/sh -c DRIVER` (or under sudo/su).
pub const DRIVER: &str = r#"IFS= read -r M || exit 1
rd_fail() { printf '%s:nocap:%s\n' "$M" "$1"; exit 0; }
command -v setsid >/dev/null 2>&1 || rd_fail setsid
head --version 2>/dev/null | grep -q GNU || rd_fail 'GNU head'
d=$(mktemp -d 2>/dev/null) || rd_fail mktemp
trap 'rm -rf "$d"' EXIT
trap 'exit 1' HUP INT TERM PIPE
printf '%s:ready\n' "$M"
n=0
while IFS=' ' read -r id sl il to; do
  n=$((n + 1))
  if [ "$n" -ge 64 ]; then rm -f "$d"/r.*; n=0; fi
  f="$d/r.$id"
  head -c "$sl" >"$f.s" || exit 1
  if [ "$il" -gt 0 ]; then head -c "$il" >"$f.i" || exit 1; else : >"$f.i"; fi
  setsid /bin/sh "$f.s" <"$f.i" >"$f.o" 2>"$f.e" &
  p=$!
  w=
  if [ "$to" != 0 ]; then
    setsid /bin/sh -c 'sleep "$1" && : >"$3" && kill -KILL "-$2"' rd-watchdog "$to" "$p" "$f.t" </dev/null >/dev/null 2>&1 &
    w=$!
  fi
  wait "$p"
  rc=$?
  if [ -n "$w" ]; then
    { kill -KILL "-$w" || { kill -KILL "$w"; kill -KILL "-$w"; }; wait "$w"; } 2>/dev/null
  fi
  t=
  if [ -e "$f.t" ]; then t=T; fi
  : >"$f.i"
  if [ -s "$f.o" ]; then cat "$f.o"; fi
  printf '%s:%s:%s%s\n' "$M" "$id" "$rc" "$t"
  if [ -s "$f.e" ]; then cat "$f.e" >&2; fi
  printf '%s:%s\n' "$M" "$id" >&2
done
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
        first.extend_from_slice(shell.marker.as_bytes());
        first.push(b'\n');
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

    /// The request header and timeout text sent to the driver.
    fn header(id: u64, script: &str, stdin: &[u8], timeout: Option<Duration>) -> String {
        let to = match timeout {
            // GNU sleep takes fractions; never 0 (which means "no timeout").
            Some(t) => format!("{:.3}", t.as_secs_f64().max(0.001)),
            None => "0".into(),
        };
        format!("{id} {} {} {to}\n", script.len(), stdin.len())
    }

    /// Runs one request and waits for its whole answer. The future may be dropped
    /// (the caller's timeout): the shell is then in an unknown state and must be
    /// finished with [`Shell::finish`] or dropped.
    pub async fn run(
        &mut self,
        script: &str,
        stdin: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Answer, ShellError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut head = Self::header(id, script, stdin, timeout).into_bytes();
        head.extend_from_slice(script.as_bytes());
        let writer = self
            .writer
            .as_ref()
            .ok_or_else(|| ShellError::Dead("closed".into()))?;
        let feed = async {
            writer
                .data(&head[..])
                .await
                .map_err(|e| ShellError::Dead(format!("writing to it: {e}")))?;
            if !stdin.is_empty() {
                writer
                    .data(stdin)
                    .await
                    .map_err(|e| ShellError::Dead(format!("writing to it: {e}")))?;
            }
            Ok::<(), ShellError>(())
        };
        let out_end = format!("{}:{id}:", self.marker).into_bytes();
        let err_end = format!("{}:{id}\n", self.marker).into_bytes();
        let reader = &mut self.reader;
        let collect = async move {
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
                match reader.wait().await {
                    Some(ChannelMsg::Data { data }) if status.is_none() => {
                        let from = out.len().saturating_sub(out_end.len() + 16);
                        out.extend_from_slice(&data);
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
        };
        tokio::pin!(feed);
        tokio::pin!(collect);
        let mut fed = false;
        loop {
            tokio::select! {
                r = &mut feed, if !fed => { r?; fed = true; }
                r = &mut collect => break r,
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
    fn headers_give_lengths_and_timeouts() {
        assert_eq!(Shell::header(3, "ab", b"xyz", None), "3 2 3 0\n");
        assert_eq!(
            Shell::header(4, "", b"", Some(Duration::from_millis(300))),
            "4 0 0 0.300\n"
        );
    }
}

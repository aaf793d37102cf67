//! Streaming a command's output as it arrives (`rdeploy exec GROUP -- journalctl -f`).
//!
//! A streamed request runs on an SSH channel of its own (never in the persistent shell,
//! which answers once per request) and every chunk of stdout/stderr is sent to an
//! [`OutputSink`] the moment it arrives; the full output is still returned at the end.
//!
//! A command that never ends by itself (`-f`) must end when rdeploy goes away (Ctrl-C,
//! a crash, a lost network), else it would run on the host forever: without a terminal
//! sshd does not signal it. So the host-side script ([`watchdog_script`]) starts the
//! command in a session of its own and watches the channel's stdin, which rdeploy keeps
//! open while it waits: when stdin ends (rdeploy closed the channel or the connection
//! died), the command's whole process group gets SIGTERM (with `setsid` on the host,
//! else the command's own process).

use crate::shell;

/// One piece of a command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    pub stderr: bool,
    pub data: Vec<u8>,
}

/// Where a streamed request's output goes, chunk by chunk.
pub type OutputSink = tokio::sync::mpsc::UnboundedSender<OutputChunk>;

/// The script run on the host for a streamed request: `script` in a session of its
/// own with stdin from /dev/null, killed (its process group, SIGTERM; without `setsid` on
/// the host, the script's own process) when the channel's stdin ends; the exit status is
/// the script's.
pub fn watchdog_script(script: &str) -> String {
    let q = shell::quote(script);
    format!(
        "exec 3<&0\n\
         if command -v setsid >/dev/null 2>&1; then\n\
         setsid /bin/sh -c {q} </dev/null 3<&- & rd_g=-\n\
         else\n\
         /bin/sh -c {q} </dev/null 3<&- & rd_g=\n\
         fi\n\
         rd_p=$!\n\
         {{ cat <&3 >/dev/null 2>&1; kill -s TERM -- \"$rd_g$rd_p\" 2>/dev/null; }} 2>/dev/null &\n\
         rd_w=$!\n\
         exec 3<&-\n\
         wait \"$rd_p\"; rd_rc=$?\n\
         kill \"$rd_w\" 2>/dev/null\n\
         exit \"$rd_rc\"\n"
    )
}

/// Splits a byte stream into lines (without the `\n` or a final `\r`); the rest of an
/// unfinished line waits for more bytes or [`finish`](Lines::finish).
#[derive(Debug, Default)]
pub struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// The complete lines in `data` (with what was pending before).
    pub fn push(&mut self, data: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(data);
        let mut out = vec![];
        while let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            out.push(text(&line[..line.len() - 1]));
        }
        out
    }

    /// The unfinished last line, if any.
    pub fn finish(&mut self) -> Option<String> {
        if self.pending.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.pending);
        Some(text(&rest))
    }
}

fn text(b: &[u8]) -> String {
    let b = b.strip_suffix(b"\r").unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_across_chunks() {
        let mut l = Lines::default();
        assert!(l.push(b"par").is_empty());
        assert_eq!(l.push(b"tial\r\nnext\n\nla"), ["partial", "next", ""]);
        assert_eq!(l.finish().as_deref(), Some("la"));
        assert_eq!(l.finish(), None);
        // Invalid UTF-8 is replaced, never an error.
        assert_eq!(l.push(b"\xff\n"), ["\u{fffd}"]);
    }

    #[test]
    fn watchdog_quotes_the_script() {
        let s = watchdog_script("echo 'it''s' $HOME");
        assert!(s.contains("setsid /bin/sh -c 'echo '"), "{s}");
        assert!(s.contains("kill -s TERM -- \"$rd_g$rd_p\""), "{s}");
    }
}

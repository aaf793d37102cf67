//! Asking the user to approve replacements and destroys. Only a terminal can answer:
//! with stdin not a terminal (CI), the answer is "cannot ask" and the caller refuses.

use std::io::{BufRead, IsTerminal, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// stdin is not a terminal: nobody can answer.
    CannotAsk,
}

/// Asks `question` on the terminal; only `yes` approves.
pub async fn ask(question: &str) -> Answer {
    if !std::io::stdin().is_terminal() {
        return Answer::CannotAsk;
    }
    let q = question.to_string();
    tokio::task::spawn_blocking(move || {
        let mut err = std::io::stderr();
        let _ = write!(err, "{q}\n  Only 'yes' will be accepted: ");
        let _ = err.flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(_) if line.trim() == "yes" => Answer::Yes,
            _ => Answer::No,
        }
    })
    .await
    .unwrap_or(Answer::No)
}

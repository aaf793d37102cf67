//! The local transport: runs scripts on the controller (`connection: local`).

use super::{Connection, ExecOutput, ExecRequest, TransportError};
use async_trait::async_trait;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// Runs scripts with `/bin/sh -c` on the controller.
pub struct LocalConnection;

#[async_trait]
impl Connection for LocalConnection {
    fn is_local(&self) -> bool {
        true
    }
    async fn exec(&self, req: ExecRequest) -> Result<ExecOutput, TransportError> {
        let (command, mut data) = super::wrap_become(&req.script, req.become_.as_ref());
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TransportError::Connect {
                addr: "localhost".into(),
                msg: e.to_string(),
            })?;
        let mut stdin = child.stdin.take();
        data.extend_from_slice(&req.stdin.unwrap_or_default());
        let writer = async move {
            if let Some(s) = stdin.as_mut() {
                let _ = s.write_all(&data).await;
                let _ = s.shutdown().await;
            }
            drop(stdin);
        };
        let run = async {
            let (_, out) = tokio::join!(writer, child.wait_with_output());
            out
        };
        let out = match req.timeout {
            Some(t) => tokio::time::timeout(t, run)
                .await
                .map_err(|_| TransportError::Timeout(t))?,
            None => run.await,
        }
        .map_err(|e| TransportError::Lost(e.to_string()))?;
        Ok(ExecOutput {
            rc: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

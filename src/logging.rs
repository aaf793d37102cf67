//! Diagnostic logging to stderr, off unless `RDEPLOY_LOG` is set (e.g. `RDEPLOY_LOG=debug`)
//! or `-v` is given (then the transport's decisions, e.g. a host falling back from its
//! persistent shell to one channel per request, at `info`).
//! User-facing output goes through reporters, never through logs.

pub fn init(verbose: u8) {
    let filter = std::env::var("RDEPLOY_LOG")
        .ok()
        .or_else(|| (verbose > 0).then(|| "rdeploy::ssh=info".to_string()));
    if let Some(filter) = filter {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init();
    }
}

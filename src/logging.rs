//! Diagnostic logging to stderr, off unless `RDEPLOY_LOG` is set (e.g. `RDEPLOY_LOG=debug`).
//! User-facing output goes through reporters, never through logs.

pub fn init() {
    if let Ok(filter) = std::env::var("RDEPLOY_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
}

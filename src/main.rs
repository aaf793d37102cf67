//! The rdeploy binary: parse arguments, run, map the outcome to an exit status.

use clap::Parser;

fn main() {
    // Bad flags are bad input: exit status 1 (clap's default would be 2, which means
    // "a task failed" here). --help and --version exit 0.
    let cli = match rdeploy::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                rdeploy::app::EXIT_BAD_INPUT
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let verbose = match &cli.command {
        rdeploy::cli::Command::Run(a) => a.conn.verbose,
        rdeploy::cli::Command::Exec(a) => a.conn.verbose,
        _ => 0,
    };
    rdeploy::logging::init(verbose);
    raise_open_files_limit();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match rt.block_on(rdeploy::app::run(cli)) {
        Ok(code) => code,
        Err(rdeploy::error::Error::Interrupted) => rdeploy::app::EXIT_INTERRUPTED,
        Err(e) => {
            eprintln!("ERROR: {}", rdeploy::vault::censor::censor(&e.to_string()));
            rdeploy::app::exit_status(&e)
        }
    };
    std::process::exit(code);
}

/// One SSH connection per host (and files per request) needs many descriptors: the
/// soft limit of open files is raised to the hard limit at start (a common soft limit
/// of 1024 would stop a run at a few hundred hosts).
fn raise_open_files_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit with a valid, initialized struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

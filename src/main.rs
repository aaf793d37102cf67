//! The rdeploy binary: parse arguments, run, map the outcome to an exit status.

use clap::Parser;

fn main() {
    let cli = rdeploy::cli::Cli::parse();
    rdeploy::logging::init();
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
            eprintln!("ERROR: {e}");
            rdeploy::app::EXIT_BAD_INPUT
        }
    };
    std::process::exit(code);
}

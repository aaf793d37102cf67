use clap::Parser;

fn main() {
    let _cli = rdeploy::cli::Cli::parse();
}

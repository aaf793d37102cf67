//! rdeploy's integration tests: one test binary, real OpenSSH hosts in Debian
//! containers (tests/fleet/fleet.sh), real moto server for AWS.

mod harness;
mod engine;
mod ssh;
mod inventory;
mod modules_system;
mod templates;
mod modules_files;
mod provision;

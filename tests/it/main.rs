//! rdeploy's integration tests: one test binary, real OpenSSH hosts in Debian
//! containers (tests/fleet/fleet.sh), real moto server for AWS.

mod aws_inventory;
mod engine;
mod engine_local;
mod faults;
mod galaxy_roles;
mod harness;
mod inventory;
mod modules_files;
mod modules_extra;
mod modules_more;
mod modules_system;
mod properties;
mod provision;
mod realtime;
mod roles_content;
mod roles_local;
mod secrets;
mod shell;
mod ssh;
mod stack;
mod templates;
mod validation;
mod vault;

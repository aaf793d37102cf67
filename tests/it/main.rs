//! rdeploy's integration tests: one test binary, real OpenSSH hosts in Debian
//! containers (tests/fleet/fleet.sh), real moto server for AWS.

mod aws_inventory;
mod cluster;
mod engine;
mod engine_features;
mod engine_local;
mod envs;
mod examples_local;
mod exec_stream;
mod faults;
mod galaxy_roles;
mod harness;
mod host_keys;
mod inventory;
mod modules_files;
mod modules_more;
mod modules_system;
mod monitoring;
mod properties;
mod provision;
mod provision_db;
mod provision_dns;
mod provision_lb;
mod provision_peering;
mod realtime;
mod roles_local;
mod scenario;
mod secrets;
mod shell;
mod snapshots;
mod ssh;
mod stack;
mod templates;
mod validation;
mod vault;

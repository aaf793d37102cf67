//! rdeploy: agentless configuration, deploy and provisioning over SSH.
//!
//! Layout (see ARCHITECTURE.md): [`cli`] parses, [`inventory`] and [`playbook`] load and
//! validate, [`executor`] runs tasks through [`modules`] over [`ssh`] connections,
//! [`output`] renders events, [`provision`] talks to AWS, [`template`] renders Jinja.

pub mod app;
pub mod aws;
pub mod cli;
pub mod config;
pub mod doc;
pub mod error;
pub mod executor;
pub mod inventory;
pub mod logging;
pub mod modules;
pub mod output;
pub mod playbook;
pub mod provision;
pub mod shell;
pub mod ssh;
pub mod template;
pub mod vault;
pub mod yaml;

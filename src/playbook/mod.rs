//! The playbook language: plays, tasks, blocks, roles, handlers, loaded from YAML with
//! positions and validated before anything runs.

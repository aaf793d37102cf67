//! known_hosts parsing and host key verification (not implemented yet).

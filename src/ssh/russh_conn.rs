//! The SSH transport over russh (not implemented yet).

use super::{ConnectSpec, Connection, TransportError};
use std::sync::Arc;

/// Opens one SSH connection to a host, authenticated and host-key checked.
pub async fn connect(spec: &ConnectSpec) -> Result<Arc<dyn Connection>, TransportError> {
    Err(TransportError::Connect { addr: format!("{}:{}", spec.address, spec.port), msg: "ssh transport not implemented yet".into() })
}

//! Errors of starting a status server.
//!
//! Depends on no other module of the crate.

use std::net::SocketAddr;

/// Why the status server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address could not be bound (in use, or not an address of this host).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The async runtime or the server thread could not be started.
    #[error("cannot start the status server: {0}")]
    Start(#[source] std::io::Error),
}

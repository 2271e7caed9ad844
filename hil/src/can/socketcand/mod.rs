//! The socketcand ASCII protocol over TCP: a server for virtual segments and a client.

mod bcm;
mod client;
pub mod protocol;
mod server;

pub use client::SocketcandClient;
pub use server::SocketcandServer;

/// The port in socketcand's beacon example (meters-and-can-hil.md §3.2).
pub const DEFAULT_PORT: u16 = 29536;

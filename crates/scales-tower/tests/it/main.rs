//! The integration tests of scales-tower: the layer in real servers (axum, plain hyper) on
//! 127.0.0.1, driven by a real HTTP client, with every value checked exactly.

mod axum_server;
mod hyper_server;
mod support;
mod unwind;

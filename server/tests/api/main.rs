//! Black-box tests of the HTTP API: the real gateway on a loopback port with a fresh
//! SQLite file per test, driven by a real HTTP client.

mod auth;
mod authorization;
mod bad_input;
mod binary;
mod helpers;
mod messages;
mod real_engine;
mod receiver;
mod seed;
mod sessions;
mod system;
mod webhooks;

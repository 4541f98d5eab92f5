//! Integration and end-to-end tests of the status server, one binary.
//!
//! `routes`, `keys`, `mounting`, `pruning`, `auth`, `concurrency` and `limits` need nothing but the
//! server. `browser` (headless Chromium) and
//! `prometheus` (a real Prometheus, on the port in `PROM_URL`) run when `SCALES_E2E=1`, as
//! `scripts/test.sh` sets after starting the services, and fail if a tool is missing then;
//! without it they print why they skip. `pressure` (thousands of slow and idle clients, load
//! beside recording threads) runs when `SCALES_E2E=1` too, each of its tests alone: every
//! other test holds `support::shared()` while it runs, and a pressure test
//! `support::exclusive()`.

mod auth;
mod browser;
mod concurrency;
mod keys;
mod limits;
mod mounting;
mod pressure;
mod prometheus;
mod pruning;
mod routes;
mod sketches;
mod support;

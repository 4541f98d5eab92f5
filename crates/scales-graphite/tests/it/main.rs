//! The integration tests of scales-graphite, in one test binary: each file a module, with
//! the helpers in `support`.
//!
//! * Against loopback listeners (no carbon needed): `pusher`, `faults`, `health`, `logging`.
//! * End to end against a real carbon-cache, run only with `SCALES_E2E=1` and the carbon
//!   variables `scripts/services/carbon.sh env` prints (`CARBON_ADDR`, `CARBON_DIR`, ...):
//!   `e2e`, `e2e_faults`, and `e2e_outage` and `e2e_hang`, which stop, freeze or kill
//!   carbon and so hold it alone (see `support::e2e`).
//!
//! One test: `cargo test -p scales-graphite --test it NAME`.

mod e2e;
mod e2e_faults;
mod e2e_hang;
mod e2e_outage;
mod faults;
mod health;
mod logging;
mod pusher;
mod support;

//! Declares the `loom` cfg (set by `RUSTFLAGS="--cfg loom"` for the model tests).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(loom)");
}

//! Builds the OpenAPI document once, on the host, into the Worker: the document is data
//! (its schemas are `till_shared::openapi`), so the Worker carries it as text instead of
//! the code that makes it, and sets only the origin it is served from.

use std::path::PathBuf;

/// The origin written into the built document; the Worker puts its own in its place.
const PLACEHOLDER_ORIGIN: &str = "https://till.invalid";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let document = till_shared::openapi::document(PLACEHOLDER_ORIGIN);
    std::fs::write(out.join("openapi.json"), document.to_string())
        .expect("the build directory is writable");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../shared/src");
}

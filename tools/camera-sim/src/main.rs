//! `sluice-camera` (work in progress).
fn main() {}

//! A stand-in for the sock camera (work in progress).

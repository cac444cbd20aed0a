//! Test harness: starts the sluice binary and brokers for end-to-end tests.

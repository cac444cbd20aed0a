//! Sluice worker configuration: Java properties files, CONNECT_* environment overrides, and config providers for secrets.

//! Sluice worker

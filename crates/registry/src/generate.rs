//! Synthetic registries. To be written.

//! Streaming import of registry files (CSV, JSON Lines). To be written.

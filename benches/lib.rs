//! Shared data generators for the criterion benches.

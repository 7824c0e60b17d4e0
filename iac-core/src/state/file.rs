//! File state store (placeholder; written in the state-store task).

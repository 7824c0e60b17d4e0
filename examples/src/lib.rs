//! Runnable examples of the iac SDK; see `examples/README.md`.

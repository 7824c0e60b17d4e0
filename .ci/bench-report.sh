#!/usr/bin/env bash
# The performance report (benches/README.md) in quick mode, so that the harness cannot rot:
# small sizes, virtual-time figures on the simulator, real CPU time for the engine and the
# signer. Fails when the report cannot run or a figure errors; a missed target is printed,
# not fatal (the quick sizes and a shared CI machine are not the conditions of the targets).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/ci
cargo run -q -p iac-benches --release --bin report -- --quick --json target/ci/bench-report.json

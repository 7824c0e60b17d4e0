#!/usr/bin/env bash
# The performance report (benches/README.md) in quick mode, so that the harness cannot rot:
# small sizes, virtual-time figures on the simulator, real CPU time for the engine and the
# signer, and figure 7 (30 Neutron resources through the real Heat and through our engine,
# 20-50 s) when .ci/openstack.sh started the full set (IAC_OS_OPENRC; the services are
# stopped only when .ci/run exits). Fails when the report cannot run or a figure errors; a
# missed target is printed, not fatal (the quick sizes and a shared CI machine are not the
# conditions of the targets).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/ci
cargo run -q -p iac-benches --release --bin report -- --quick --json target/ci/bench-report.json

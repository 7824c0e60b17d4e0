#!/usr/bin/env bash
# Real OpenStack services for the iac-openstack tests and figure 7 of the performance
# report. Sourced by .ci/run before `cargo test --workspace`:
#   - starts the full set with ../shared/peers/openstack.sh --full: Keystone, Glance, Neutron,
#     RabbitMQ, Placement, Nova (fake driver), Cinder (fake driver) and Heat, so the tests
#     also run servers, volumes, attachments and the Heat-vs-engine comparison;
#     `IAC_OS_FULL=0` starts the light set (Keystone, Glance, Neutron) instead;
#   - exports IAC_OS_OPENRC, the admin openrc the tests read (the OS_* variables stay out
#     of CI's environment, so the examples keep running on the simulator), and
#     IAC_OS_CI_SET (full or light): a test that needs a service of that set then fails
#     instead of skipping when it is missing (iac-openstack/tests/common/mod.rs);
#   - adds its stop command to .ci/run's `cleanup` list (run when CI exits, after the
#     performance report, whose figure 7 uses Heat).
# IAC_PEERS=0 skips it (the tests then run on the simulator only).
# Cost (2 cores shared with other jobs, 2026-11-30): full cold start (empty state dir, no
# rabbitmq-server) 242 s (pip 135 s, databases 53 s, apt rabbitmq and process start 31 s,
# readiness 25 s); warm (venv and pristine databases kept) 44 s (61-96 s in earlier runs);
# 2.7 GB of RAM while it runs; stop 8 s. The tests that use it take about 45 s more than
# on the simulator alone (Heat comparison 24 s, Nova/Cinder 17 s), figure 7 (quick, 30
# resources) 20-50 s. Inside .ci/run: 163 s cold (fresh IAC_PEERS_DIR, rabbitmq-server
# already installed; pip 82 s), 43 s warm.
# Light: cold 118 s, warm 15-27 s, 0.5 GB.
if [ "${IAC_PEERS:-1}" = 1 ]; then
  os_peers="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../shared/peers" && pwd)"
  os_mode=(--full); IAC_OS_CI_SET=full
  if [ "${IAC_OS_FULL:-1}" = 0 ]; then os_mode=(); IAC_OS_CI_SET=light; fi
  export IAC_OS_CI_SET
  cleanup+=("\"$os_peers/openstack.sh\" stop")
  "$os_peers/openstack.sh" start "${os_mode[@]}"
  export IAC_OS_OPENRC="${IAC_PEERS_DIR:-${TMPDIR:-/tmp}/iac-peers}/openstack/openrc"
fi

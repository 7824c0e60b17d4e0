#!/usr/bin/env bash
# Real OpenStack services for the iac-openstack tests. Sourced by .ci/run before
# `cargo test --workspace`:
#   - starts the light set (Keystone, Glance, Neutron) with ../shared/peers/openstack.sh
#     (`IAC_OS_FULL=1` adds Nova, Cinder, Placement, RabbitMQ and Heat);
#   - exports IAC_OS_OPENRC, the admin openrc the tests read (the OS_* variables stay out
#     of CI's environment, so the examples keep running on the simulator);
#   - adds its stop command to .ci/run's `cleanup` list (run when CI exits).
# IAC_PEERS=0 skips it (the tests then run on the simulator only).
# Cost (2 cores, shared): light cold 118 s (pip 63 s), warm (venv kept) 15-27 s, already running 1 s;
# stop 4 s.
if [ "${IAC_PEERS:-1}" = 1 ]; then
  os_peers="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../shared/peers" && pwd)"
  os_mode=(); [ "${IAC_OS_FULL:-0}" = 1 ] && os_mode=(--full)
  "$os_peers/openstack.sh" start "${os_mode[@]}"
  cleanup+=("\"$os_peers/openstack.sh\" stop")
  export IAC_OS_OPENRC="${IAC_PEERS_DIR:-${TMPDIR:-/tmp}/iac-peers}/openstack/openrc"
fi

#!/usr/bin/env bash
# ROS: the template corpus figures (loaded, validated, deployed, unsupported types ranked),
# and the bundled template deployed through the simulator's ROS service (CreateStack).
# Runs after `cargo test --workspace` (everything is built): a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
log_dir=target/ci
mkdir -p "$log_dir"
cargo test -q -p iac-aliyun --test ros_corpus -- --nocapture >"$log_dir/ros-corpus.log" 2>&1 \
  || { tail -n 60 "$log_dir/ros-corpus.log"; exit 1; }
sed -n '/^ROS corpus:/,/^unsupported functions/p' "$log_dir/ros-corpus.log" | head -n 12
timeout 300 cargo run -q --example ros_template -- --ros >"$log_dir/ros_template-ros.log" 2>&1 \
  || { tail -n 40 "$log_dir/ros_template-ros.log"; exit 1; }
grep -q "^DELETE_COMPLETE" "$log_dir/ros_template-ros.log" \
  || { echo "ros_template --ros did not destroy its stack"; exit 1; }
tail -n 1 "$log_dir/ros_template-ros.log"

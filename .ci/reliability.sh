#!/usr/bin/env bash
# Reliability and security checks (see RELIABILITY.md), in two sizes:
#   --quick (default, run by .ci/run): 10 soak seeds, 10 rollback seeds, 6 kill -9 runs,
#           the hostile-input, malformed-answer and secret-hygiene tests, each fuzz target
#           for IAC_FUZZ_SECONDS (default 20) seconds.
#   --full: 100 soak seeds, 100 rollback seeds, 50 kill -9 runs, fuzzing 300 s per target.
# The figures of each part are printed as `reliability <part>: ...` lines and collected in
# target/ci/reliability-summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:---quick}
case "$mode" in
  --quick) soak=10 rollback=10 kills=6 fuzz_seconds=${IAC_FUZZ_SECONDS:-20} ;;
  --full) soak=100 rollback=100 kills=50 fuzz_seconds=${IAC_FUZZ_SECONDS:-300} ;;
  *) echo "usage: $0 [--quick|--full]" >&2; exit 2 ;;
esac
log_dir="$(pwd)/target/ci"
mkdir -p "$log_dir"
summary="$log_dir/reliability-summary.txt"
: >"$summary"
started=$(date +%s)
status=0

run() { # name, then the command
  local name=$1; shift
  local t0; t0=$(date +%s)
  echo "-- $name: $*"
  if "$@" >"$log_dir/reliability-$name.log" 2>&1; then
    echo "   ok in $(( $(date +%s) - t0 ))s"
  else
    echo "   FAILED in $(( $(date +%s) - t0 ))s:"; tail -n 40 "$log_dir/reliability-$name.log"; status=1
  fi
  grep -ho 'reliability [a-z-]*: .*' "$log_dir/reliability-$name.log" | tee -a "$summary" || true
}

export IAC_RELIABILITY_SOAK_RUNS=$soak IAC_RELIABILITY_ROLLBACK_RUNS=$rollback IAC_RELIABILITY_KILL_RUNS=$kills
run reliability cargo test -q -p iac-aliyun --test reliability -- --nocapture
run kill-resume cargo test -q -p iac-aliyun --test kill_resume
run hostile-responses cargo test -q -p iac-aliyun --test hostile_responses
run hostile-input cargo test -q -p iac-core --test hostile_input
run secret-hygiene cargo test -q -p iac-examples --test secret_hygiene -- --nocapture
run fuzz-replay-core cargo test -q -p iac-core --test fuzz_corpus -- --nocapture
run fuzz-replay-aliyun cargo test -q -p iac-aliyun --test fuzz_corpus -- --nocapture
run fuzz-replay-openstack cargo test -q -p iac-openstack --test fuzz_corpus -- --nocapture

# libFuzzer through cargo-fuzz: nightly features via RUSTC_BOOTSTRAP=1 on the stable
# compiler. Without cargo-fuzz the corpus replays above are what runs. IAC_FUZZ_SECONDS=0
# skips libFuzzer.
if [ "$fuzz_seconds" -ne 0 ] && ! cargo fuzz --version >/dev/null 2>&1; then
  # cargo-fuzz comes from crates.io (a few minutes, once per machine).
  echo "installing cargo-fuzz from crates.io"
  cargo install --locked cargo-fuzz >"$log_dir/reliability-cargo-fuzz-install.log" 2>&1 \
    || { echo "cargo install cargo-fuzz failed:"; tail -n 20 "$log_dir/reliability-cargo-fuzz-install.log"; }
fi
if [ "$fuzz_seconds" -eq 0 ]; then
  echo "reliability fuzz: skipped (IAC_FUZZ_SECONDS=0)" | tee -a "$summary"
elif cargo fuzz --version >/dev/null 2>&1; then
  export RUSTC_BOOTSTRAP=1
  fuzz_status=0
  (cd fuzz && cargo fuzz build --sanitizer none -O) >"$log_dir/reliability-fuzz-build.log" 2>&1 \
    || { echo "fuzz build failed:"; tail -n 30 "$log_dir/reliability-fuzz-build.log"; fuzz_status=1; }
  if [ "$fuzz_status" -eq 0 ]; then
    for target in ros_loader hot_loader expr_eval response_decoders; do
      mkdir -p "fuzz/corpus/$target"
      t0=$(date +%s)
      # New inputs go to a scratch directory; the kept corpus is only read.
      scratch=$(mktemp -d)
      if (cd fuzz && cargo fuzz run --sanitizer none -O "$target" "$scratch" "corpus/$target" -- \
            -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536) \
            >"$log_dir/reliability-fuzz-$target.log" 2>&1; then
        runs=$(grep -Eo '^#[0-9]+' "$log_dir/reliability-fuzz-$target.log" | tail -n 1 | tr -d '#')
        echo "reliability fuzz $target: seconds=$fuzz_seconds execs=${runs:-0} crashes=0" | tee -a "$summary"
      else
        echo "reliability fuzz $target: CRASH (see $log_dir/reliability-fuzz-$target.log)" | tee -a "$summary"
        tail -n 30 "$log_dir/reliability-fuzz-$target.log"; status=1
      fi
      rm -rf "$scratch"
      echo "   $target: $(( $(date +%s) - t0 ))s"
    done
  else
    status=1
  fi
else
  echo "reliability fuzz: cargo-fuzz not installed (cargo install cargo-fuzz); corpus replay only" | tee -a "$summary"
fi

echo "reliability ($mode) finished in $(( $(date +%s) - started ))s, status $status"
exit "$status"

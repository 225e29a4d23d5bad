# Sourced by the bench scripts that measure a running daemon:
#   start_daemon CONFIG PORT
# starts `wiredesk --config CONFIG run` on 127.0.0.1:PORT (BIN, or a release
# build of this tree), waits until /readyz answers (at most 60 s), stops it
# on exit, and sets `ready_after` to the seconds that took.
start_daemon() {
  local config=$1 port=$2 root log started
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ -z "${BIN:-}" ]; then
    (cd "$root" && cargo build --release --locked -q --bin wiredesk)
    BIN="${CARGO_TARGET_DIR:-$root/target}/release/wiredesk"
  fi
  log=$(mktemp)
  started=$(date +%s.%N)
  WIREDESK_SERVER__LISTEN="127.0.0.1:$port" RUST_LOG=warn "$BIN" --config "$config" run > "$log" 2>&1 &
  daemon_pid=$!
  trap 'kill $daemon_pid 2>/dev/null; wait $daemon_pid 2>/dev/null; rm -f "'"$log"'"' EXIT
  for _ in $(seq 3000); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break
    kill -0 "$daemon_pid" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.02
  done
  ready_after=$(echo "$(date +%s.%N) - $started" | bc)
}

#!/bin/sh
# Builds the Debian package, target/debian/wiredesk_<version>-1_<arch>.deb,
# with cargo-deb (`cargo install cargo-deb --locked`). The man page and the
# completions are made by the release binary itself (`wiredesk man`,
# `wiredesk completions SHELL`: the same clap definition as --help), and the
# unit from contrib/wiredesk.service, changed for the package: /usr/bin, and
# the system user the postinst creates instead of a dynamic one.
# Arguments are passed to `cargo deb` (e.g. --output DIR).
set -eu
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked
bin="$target/release/wiredesk"
out="$target/deb-assets"
rm -rf "$out"
mkdir -p "$out"
"$bin" man | gzip -9n > "$out/wiredesk.1.gz"
"$bin" completions bash > "$out/wiredesk.bash"
"$bin" completions zsh > "$out/_wiredesk"
"$bin" completions fish > "$out/wiredesk.fish"
sed -e 's|/usr/local/bin/wiredesk|/usr/bin/wiredesk|g' \
    -e '/^#   install /d' \
    -e 's|^#   systemctl daemon-reload.*|#   installed by the wiredesk Debian package; enable it with: systemctl enable --now wiredesk|' \
    -e 's|^# A user of its own, created at start; it owns only /var/lib/wiredesk.|# The system user the package creates; it owns only /var/lib/wiredesk.|' \
    -e 's|^DynamicUser=yes$|User=wiredesk\nGroup=wiredesk|' \
    contrib/wiredesk.service > "$out/wiredesk.service"
grep -q '^User=wiredesk$' "$out/wiredesk.service"
cargo deb --no-build --locked "$@"

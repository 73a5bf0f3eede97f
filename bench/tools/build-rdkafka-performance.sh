#!/usr/bin/env bash
# Builds rdkafka_performance, the load tool in librdkafka's source tree, from Debian's librdkafka source package
# (the same librdkafka the interop tests use), once, into a cache directory; prints the path of the binary.
# Installs build dependencies with apt-get. Set RDKAFKA_PERF_CACHE to choose the cache directory.
set -euo pipefail
cache=${RDKAFKA_PERF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice-bench/rdkafka}
found=$(ls "$cache"/librdkafka-*/examples/rdkafka_performance 2>/dev/null | head -1 || true)
if [ -n "$found" ]; then echo "$found"; exit 0; fi
mkdir -p "$cache/apt/lists/partial" "$cache/apt/sources"
# a private apt configuration with the deb-src twins of the system's sources, so the system's own is untouched
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f" > "$cache/apt/sources/$(basename "$f")"
done
aptopts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$cache/apt/sources" -o Dir::State::Lists="$cache/apt/lists")
log="$cache/build.log"
if ! {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential zlib1g-dev libssl-dev libsasl2-dev libzstd-dev liblz4-dev
  apt-get "${aptopts[@]}" update -qq
  (cd "$cache" && apt-get "${aptopts[@]}" source -qq librdkafka)
  src=$(ls -d "$cache"/librdkafka-*/ | head -1)
  (cd "$src" && ./configure --disable-gssapi --disable-curl && make -j"$(nproc)" libs && make -C examples rdkafka_performance)
} >"$log" 2>&1; then
  echo "building rdkafka_performance failed; see $log" >&2
  exit 1
fi
ls "$cache"/librdkafka-*/examples/rdkafka_performance | head -1

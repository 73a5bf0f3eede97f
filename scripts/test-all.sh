#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs the whole suite:
# the Debian packages of the real clients the interop tests drive (the Go clients sarama and kafka-go, as Debian's
# source with Debian's Go: the tests build their programs from it; Burrow, the lag monitor, with the ZooKeeper it
# needs; Prometheus, which scrapes the broker's metrics, and its promtool; nginx with its Lua module and
# lua-resty-kafka, the Lua producer of OpenResty gateways), the npm packages (Confluent's Node client built from
# source), then `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y build-essential pkg-config kcat python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard \
  golang-go golang-github-shopify-sarama-dev golang-github-segmentio-kafka-go-dev golang-github-optiopay-kafka-dev burrow zookeeper prometheus \
  libnginx-mod-http-lua lua-nginx-kafka \
  zlib1g-dev libssl-dev libsasl2-dev libzstd-dev liblz4-dev
npm ci
# Confluent's Node client, for its newer librdkafka: its prebuilt binaries come from outside the npm registry, so it is
# built from the librdkafka it bundles against the Debian libraries above; installed apart, so that the project's own
# `npm install` needs none of this
CKJS_LINKING=dynamic npm ci --prefix test/interop/kafka-javascript
npm test

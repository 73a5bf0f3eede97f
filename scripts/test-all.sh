#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs the whole suite:
# the Debian packages of the real clients the interop tests drive, the npm packages, then `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y build-essential kcat python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard
npm ci
npm test

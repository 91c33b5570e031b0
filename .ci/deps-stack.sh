#!/usr/bin/env bash
# CI install step for the DisGraFS stack scenario (molecule/disgrafs): Neo4j is
# assembled from Maven Central on the control machine (roles/neo4j), which
# needs Maven and a JDK 17. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
command -v mvn >/dev/null || missing+=(maven)
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi
echo "maven: $(command -v mvn), javac: $(command -v javac)"

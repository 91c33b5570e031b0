#!/usr/bin/env bash
# Assemble Neo4j Community from Maven Central into one archive, the same way the
# neo4j role does with neo4j_install_method=maven (roles/neo4j/files/pom.xml).
# Use it to prepare an offline or mirror-only site: build the archive once on
# any machine with Maven and a JDK, then point the role at it:
#
#   scripts/neo4j-assemble.sh                 # -> ~/.cache/disgrafs-lab/neo4j/neo4j-5.26.30-maven.tar
#   ansible-playbook site.yml -e neo4j_maven_archive=/path/to/neo4j-5.26.30-maven.tar
#
# The archive holds lib/ (about 215 jars, ~140 MB): the server, every runtime
# dependency and the Neo4j Browser. It runs on Java 17:
#   java -cp 'lib/*' org.neo4j.server.CommunityEntryPoint --home-dir=H --config-dir=H/conf
#   java -cp 'lib/*' org.neo4j.cli.AdminTool dbms set-initial-password PW   (NEO4J_HOME, NEO4J_CONF set)
#
# Environment:
#   NEO4J_VERSION=5.26.30          a 5.x release (5.26 is the LTS line on Java 17)
#   NEO4J_BROWSER_VERSION=5.24.0   org.neo4j.client:neo4j-browser; "" leaves the Browser out
#   MAVEN_MIRROR=URL               a Maven repository mirror (default: Maven Central)
#   OUT=PATH                       where the archive goes
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${NEO4J_VERSION:-5.26.30}"
BROWSER="${NEO4J_BROWSER_VERSION-5.24.0}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/disgrafs-lab/neo4j"
OUT="${OUT:-$CACHE/neo4j-$VERSION-maven.tar}"

say() { echo "==> [neo4j] $*"; }
die() { echo "ERROR [neo4j]: $*" >&2; exit 1; }

command -v mvn >/dev/null 2>&1 || die "no mvn: apt-get install -y maven openjdk-17-jdk-headless"
if [ -s "$OUT" ]; then
    say "$OUT exists (remove it to rebuild)"
    exit 0
fi

BUILD="$(mktemp -d "${TMPDIR:-/tmp}/neo4j-assemble.XXXXXX")"
trap 'rm -rf "$BUILD"' EXIT
cp "$ROOT/roles/neo4j/files/pom.xml" "$BUILD/pom.xml"
args=(-B -q "-Dneo4j.version=$VERSION" "-Dneo4j.browser.version=${BROWSER:-5.24.0}")
if [ -n "${MAVEN_MIRROR:-}" ]; then
    cat >"$BUILD/settings.xml" <<EOF
<settings><mirrors><mirror><id>mirror</id><mirrorOf>*</mirrorOf><url>$MAVEN_MIRROR</url></mirror></mirrors></settings>
EOF
    args+=(-s settings.xml)
fi
[ -n "$BROWSER" ] || args+=(-DexcludeArtifactIds=neo4j-browser)

say "resolving org.neo4j:neo4j:$VERSION and its runtime dependencies"
start=$SECONDS
(cd "$BUILD" && mvn "${args[@]}" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=lib) \
    || die "mvn failed (output above)"
[ -f "$BUILD/lib/neo4j-$VERSION.jar" ] || die "lib/neo4j-$VERSION.jar missing after mvn"

mkdir -p "$(dirname "$OUT")"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$OUT.tmp" -C "$BUILD" lib
mv "$OUT.tmp" "$OUT"
say "$OUT: $(ls "$BUILD/lib" | wc -l) jars, $(du -h "$OUT" | cut -f1), in $((SECONDS - start))s"

#!/bin/sh
# playground-assets.sh refreshes the playground's third-party files
# (internal/playground/assets/) from the npm registry, at the versions
# pinned below. It downloads each package's tarball with `npm pack`,
# checks the tarball against the registry's integrity hash, copies the
# browser-ready files and the package's licence, and writes MANIFEST:
# package, version, file and SHA-256 of every file copied.
#
# Run it from anywhere (needs node and npm); commit what it changes.
# `go generate` never runs it: the build needs no network.
#
# GraphiQL 3 is the last major version with a browser-ready (UMD)
# bundle in its npm package: versions 4 and 5 are ES modules that need a
# bundler. Its bundle expects React 18's UMD builds (React 19 ships none)
# as the globals React and ReactDOM.
set -eu

GRAPHIQL=3.9.0
REACT=18.3.1

# package version file-in-tarball name-in-assets
FILES="
graphiql $GRAPHIQL graphiql.min.js graphiql.min.js
graphiql $GRAPHIQL graphiql.min.css graphiql.min.css
graphiql $GRAPHIQL LICENSE LICENSE.graphiql
react $REACT umd/react.production.min.js react.production.min.js
react $REACT LICENSE LICENSE.react
react-dom $REACT umd/react-dom.production.min.js react-dom.production.min.js
react-dom $REACT LICENSE LICENSE.react-dom
"

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/internal/playground/assets"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sha256() { sha256sum "$1" | cut -d' ' -f1; }

for spec in "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT"; do
	name=${spec%@*}
	version=${spec#*@}
	want=$(npm view "$spec" dist.integrity)
	(cd "$work" && npm pack --silent "$spec" >/dev/null)
	tgz="$work/$name-$version.tgz"
	got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
	if [ "$got" != "$want" ]; then
		echo "playground-assets: $spec: tarball integrity $got, registry says $want" >&2
		exit 1
	fi
	mkdir -p "$work/$name"
	tar -xzf "$tgz" -C "$work/$name"
done

rm -f "$out"/*
manifest="$out/MANIFEST"
{
	echo "# Written by scripts/playground-assets.sh: do not edit."
	echo "# package	version	file	sha256"
} >"$manifest"
echo "$FILES" | while read -r pkg version src dst; do
	[ -n "$pkg" ] || continue
	cp "$work/$pkg/package/$src" "$out/$dst"
	printf '%s\t%s\t%s\t%s\n' "$pkg" "$version" "$dst" "$(sha256 "$out/$dst")" >>"$manifest"
done
echo "playground-assets: wrote $(ls "$out" | wc -l) files to internal/playground/assets"

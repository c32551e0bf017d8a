#!/bin/sh
# Builds the plugin as a WebAssembly component: {{name}}.wasm, next to this
# script. Needs the target once: rustup target add wasm32-wasip2
set -eu
cd "$(dirname "$0")"
cargo build --release --target wasm32-wasip2 --no-default-features
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
cp "${target_dir:-target}/wasm32-wasip2/release/{{module}}.wasm" {{name}}.wasm
echo "built $(pwd)/{{name}}.wasm"

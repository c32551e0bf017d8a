#!/bin/sh
# Builds {{name}}.wasm from app.py and the WIT contract in wit/.
#
# Needs componentize-py and asn1crypto in the Python that runs this script
# (`pip install -r requirements.txt`, in a virtualenv or not): componentize-py
# bundles CPython, app.py and every module it imports (asn1crypto, found on
# that Python's path) into one component.
set -eu
cd "$(dirname "$0")"
componentize-py --wit-path wit --world issuer componentize app --output {{name}}.wasm
echo "wrote {{name}}.wasm ($(wc -c < {{name}}.wasm) bytes)"

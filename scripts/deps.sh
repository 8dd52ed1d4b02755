# Sourced by the other scripts: installs the Debian packages a command needs, by group, so that the
# demo installs only what the demo needs. As root it runs apt-get; otherwise it uses sudo when it
# can, or says exactly what to install.
#   beacon_install_deps [group...]   (no group: every group, what CI needs)
# Groups:
#   demo      a compiler, CMake, Boost, nlohmann/json, Catch2: the core, the demo and the examples
#             that need nothing else (scripts/demo, scripts/example)
#   redis     the Redis bridge, its examples and tests (a redis-server, hiredis, Python's redis), and
#             the inboxes its consumers take: SQLite (libsqlite3, the sqlite3 shell the tests use) and
#             PostgreSQL (libpq; the server, whose initdb and postgres the tests run a cluster with),
#             and simdjson, the faster decoders its consumers can take (the simdjson part)
#   metrics   the metrics part (prometheus-cpp), its example and its scrape test (a Prometheus
#             server and promtool)
#   web       the web example and tests (curl -N; headless chromium drives the example's page), and
#             the outbound part (libcurl, OpenSSL's libcrypto; the openssl command makes the tests' CA;
#             aiosmtpd is the SMTP server of the e-mail tests)
#   test      sanitizer builds and fuzzers (clang), valgrind, the benchmarks and their peers, node and
#             the npm packages of the interop tests (tests/interop/package.json, into its node_modules)
#   check     the static checks (scripts/check): doxygen, clang-tidy, cppcheck

beacon_packages_demo=(cmake make g++ pkgconf libboost-dev nlohmann-json3-dev catch2)
beacon_packages_redis=(redis-server libhiredis-dev python3 python3-redis libsqlite3-dev sqlite3 libpq-dev postgresql libsimdjson-dev)
beacon_packages_metrics=(prometheus-cpp-dev prometheus)
beacon_packages_web=(curl chromium chromium-driver python3-selenium libcurl4-openssl-dev libssl-dev openssl python3-aiosmtpd)
beacon_packages_test=(
  clang libclang-rt-14-dev valgrind                # sanitizer builds, fuzzers, memcheck
  lld                                              # the faster linker of beacon's own programs
  libbenchmark-dev python3-blinker                 # benchmarks and their Python peer
  python3-flask python3-gevent                     # web push benchmark's Python peer (Flask-Notifications' way)
  nodejs                                           # the CloudEvents JS SDK's side of interop_cloudevents_js (node 20+)
)
beacon_packages_check=(doxygen clang-tidy cppcheck python3)

beacon_install_deps() {
  local groups=("$@") wanted=() missing=() g p
  [ ${#groups[@]} -eq 0 ] && groups=(demo redis metrics web test check)
  for g in "${groups[@]}"; do
    local -n list="beacon_packages_$g"
    wanted+=("${list[@]}")
  done
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    beacon_install_packages "${missing[@]}" || return 1
  fi
  case " ${groups[*]} " in *" test "*) beacon_install_node_packages ;; esac
}

# The interop tests' npm packages (tests/interop/package-lock.json), into tests/interop/node_modules
# (not committed): npm ci, only when the lock file changed since the last install.
beacon_install_node_packages() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/interop"
  if [ -f "$dir/node_modules/.package-lock.json" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    return 0
  fi
  # Node.js's own packages (the machines' node 20) bring npm; Debian's nodejs package does not.
  command -v npm >/dev/null || beacon_install_packages npm || return 1
  echo "beacon: installing the interop tests' npm packages (npm ci in tests/interop)"
  npm ci --prefix "$dir" --no-audit --no-fund
}

beacon_install_packages() {
  local missing=("$@")
  echo "beacon: installing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo="sudo"
    else
      echo "beacon: please run: sudo apt-get install -y ${missing[*]}" >&2
      return 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q && $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Sourced by the other scripts: installs the Debian packages beacon's builds and tests need.
# As root it runs apt-get; otherwise it uses sudo when it can, or says exactly what to install.

beacon_packages=(
  cmake make g++ pkgconf                          # build
  libboost-dev nlohmann-json3-dev catch2          # the library and its tests
  clang libclang-rt-14-dev                        # sanitizer builds and fuzzers
  redis-server libhiredis-dev python3 python3-redis  # the Redis bridge and its tests (interop with Python workers)
  libbenchmark-dev python3-blinker                # benchmarks and their Python peer
  curl chromium chromium-driver python3-selenium  # web push: curl -N and the headless-browser test
  python3-flask python3-gevent python3-redis      # web push benchmark's Python peer (Flask-Notifications' way)
  doxygen clang-tidy cppcheck                     # static checks: API reference, linters (scripts/check)
)

beacon_install_deps() {
  local missing=() p
  for p in "${beacon_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
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

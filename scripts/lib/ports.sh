# Port helpers for the service scripts (sourced, not run). Nothing the tests start listens
# on a fixed port: a service takes the ports given in its environment variables, or else
# free ports picked here at start time, and writes what it took to target/e2e/<name>/env,
# which scripts/test.sh sources and exports for the tests.
#
# Linux only (reads /proc). Needs python3 to pick ports (the kernel's choice for port 0).

# free_ports N: prints N distinct TCP ports that are free on 127.0.0.1 right now, one per
# line. Another program can take one before the service binds it: callers retry on a bind
# failure.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
}

# listens PID PORT: whether process PID itself holds a socket listening on TCP port PORT (on
# 127.0.0.1 or every address). A foreign server on the same port does not count.
listens() {
  local pid=$1 port=$2 fd link inodes=" "
  for fd in /proc/"$pid"/fd/*; do
    link=$(readlink "$fd" 2>/dev/null) || continue
    case $link in socket:\[*\]) inodes+="${link//[^0-9]/} " ;; esac
  done
  [ "$inodes" != " " ] || return 1
  # /proc/net/tcp{,6}: local_address is HEXIP:HEXPORT, st 0A is LISTEN, field 10 the inode.
  awk -v port="$(printf '%04X' "$port")" -v inodes="$inodes" '
    FNR > 1 && $4 == "0A" && substr($2, length($2) - 3) == port && index(inodes, " " $10 " ") { found = 1 }
    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# write_env FILE NAME=VALUE...: writes shell assignments that scripts/test.sh sources.
write_env() {
  local file=$1 pair
  shift
  : >"$file.tmp"
  for pair in "$@"; do printf '%s=%q\n' "${pair%%=*}" "${pair#*=}" >>"$file.tmp"; done
  mv "$file.tmp" "$file"
}

# alive PID: whether process PID runs (a zombie does not: where nothing reaps orphans, as
# under a container's pid 1, a killed server stays a zombie and `kill -0` still succeeds).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != "Z" ]
}

#!/bin/bash
# cri-env.sh — private containerd nodes (CRI plugin, bridge CNI) and a loopback OCI registry for
# kedge's tests, using only Debian 12 packages and locally built images (nothing leaves the host).
# Adapted from shared/tools/cri-testenv.sh; kedge::test::CriEnv (cri_env.cpp) drives it.
#
#   cri-env.sh images                               build pause+busybox once into the shared cache
#   cri-env.sh registry-up BASE PORT                docker-registry on 127.0.0.1:PORT with both images
#   cri-env.sh registry-config BASE PORT / registry-push BASE PORT
#                                                   the two halves, for a caller that runs the registry
#   cri-env.sh node-config BASE PORT NAME SUBNET [netns]
#                                                   config, cgroups, safety route (containerd not started)
#   cri-env.sh node-up BASE PORT NAME SUBNET [netns] node-config, then start containerd in background
#   cri-env.sh containerd-stop BASE NAME            stop this node's containerd (pods keep running)
#   cri-env.sh import-images BASE NAME              import both images (netns nodes cannot pull)
#   cri-env.sh node-down BASE NAME                  remove pods, stop containerd, unmount, delete
#                                                   bridge/netns/cgroups
#   cri-env.sh down BASE                            node-down every node under BASE, stop the registry
#
# Everything lives under BASE except: the image cache (/tmp/kedge-cri-images-<hash>, built
# atomically, shared by all tests), the bridge (kc-<hash of NAME>), the cgroup parent
# (/kedge-cri-NAME in every hierarchy), netns cri-NAME (netns mode) and the host route
# "unreachable 10.80.0.0/12" (a safety net: a pod address not on one of our bridges fails locally
# instead of leaving the machine by the default route; it is left in place because other tests
# running in parallel rely on it). Every command is idempotent and safe on a half-started env.
# node-config/node-up print key=value lines (sock=, bridge=, subnet=, cgroup_parent=, ...).
set -euo pipefail
POD_SUPERNET=10.80.0.0/12
SELF=$(readlink -f "${BASH_SOURCE[0]}")
# The cache key covers only the image-building code, so edits elsewhere do not rebuild images.
HASH=$(sed -n '/^mkimage() {/,/^images() {/p' "$SELF" | sha256sum | cut -c1-12)
CACHE=${KEDGE_CRI_IMAGE_CACHE:-/tmp/kedge-cri-images-$HASH}
die() { echo "cri-env: $*" >&2; exit 1; }

bridge_of() { echo "kc-$(printf %s "$1" | sha256sum | cut -c1-10)"; }
cgroup_of() { echo "kedge-cri-$1"; }
check_name() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$ ]] || die "bad node name '$1'"; }
check_port() { [[ $1 =~ ^[0-9]{1,5}$ ]] || die "bad port '$1'"; }

# A process counts as gone when it does not exist or is a zombie (PID 1 here does not reap).
alive() { local s; s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1; [ -n "$s" ] && [ "$s" != Z ]; }
# Stops pid if its command line contains $2 (never signals a process we did not start).
stop_pid() {
    local p=$1 match=$2 i
    alive "$p" || return 0
    tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$match" || return 0
    kill "$p" 2>/dev/null || true
    for i in $(seq 100); do alive "$p" || return 0; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
    for i in $(seq 100); do alive "$p" || return 0; sleep 0.05; done
}

mkimage() { # ROOTFS OUT NAME TAG ENTRYPOINT_JSON CMD_JSON  (single-layer OCI image layout)
    local rootfs=$1 out=$2 name=$3 tag=$4 ep=$5 cmd=$6 tmp ldig lsize diffid cdig csize mdig msize
    mkdir -p "$out/blobs/sha256"; tmp=$out.tmp; mkdir -p "$tmp"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf "$tmp/l.tar" .
    diffid=$(sha256sum "$tmp/l.tar" | cut -d' ' -f1); gzip -n -9 -c "$tmp/l.tar" > "$tmp/l.tgz"
    ldig=$(sha256sum "$tmp/l.tgz" | cut -d' ' -f1); lsize=$(stat -c %s "$tmp/l.tgz"); mv "$tmp/l.tgz" "$out/blobs/sha256/$ldig"
    printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"kedge cri-env.sh"}]}' \
        "$ep" "$cmd" "$diffid" > "$tmp/c.json"
    cdig=$(sha256sum "$tmp/c.json" | cut -d' ' -f1); csize=$(stat -c %s "$tmp/c.json"); mv "$tmp/c.json" "$out/blobs/sha256/$cdig"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
        "$cdig" "$csize" "$ldig" "$lsize" > "$tmp/m.json"
    mdig=$(sha256sum "$tmp/m.json" | cut -d' ' -f1); msize=$(stat -c %s "$tmp/m.json"); mv "$tmp/m.json" "$out/blobs/sha256/$mdig"
    printf '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
    # The containerd name is port-independent; netns nodes import the archive and re-tag it.
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"kedge.test/test/%s:%s","org.opencontainers.image.ref.name":"%s"}}]}' \
        "$mdig" "$msize" "$name" "$tag" "$tag" > "$out/index.json"
    tar -C "$out" -cf "$out.oci.tar" .   # archive for `ctr -n k8s.io images import`
    rm -rf "$tmp"
}

build_images() { # OUT
    local I=$1 R
    mkdir -p "$I"
    cat > "$I/pause.c" <<'EOF'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void on_term(int s) { (void)s; _exit(0); }
static void on_chld(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction t = {0}, c = {0};
  t.sa_handler = on_term; sigaction(SIGINT, &t, 0); sigaction(SIGTERM, &t, 0);
  c.sa_handler = on_chld; c.sa_flags = SA_NOCLDSTOP; sigaction(SIGCHLD, &c, 0);
  for (;;) pause();
}
EOF
    mkdir -p "$I/rootfs-pause" && gcc -static -Os -s -o "$I/rootfs-pause/pause" "$I/pause.c"
    R=$I/rootfs-busybox; mkdir -p "$R"/{bin,etc,tmp,proc,sys,dev,var/www}; chmod 1777 "$R/tmp"
    cp /bin/busybox "$R/bin/busybox"
    for a in sh sleep echo cat ls ps httpd wget nc ip hostname id env date true false mkdir rm \
             printf grep kill head tail wc touch test ifconfig; do
        ln -sf busybox "$R/bin/$a"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"; echo 'root:x:0:' > "$R/etc/group"
    echo 'hello from busybox pod' > "$R/var/www/index.html"
    mkimage "$I/rootfs-pause" "$I/pause" pause 3.9 '["/pause"]' 'null'
    mkimage "$R" "$I/busybox" busybox 1.35 '["/bin/sh"]' '["-c","echo hello; exec sleep 3600"]'
    rm -rf "$I/rootfs-pause" "$R"
}

images() { # builds the cache once per script version; concurrent callers wait on the lock
    [ -f "$CACHE/done" ] && { echo "$CACHE"; return 0; }
    exec 9> "$CACHE.lock"
    flock 9
    if [ ! -f "$CACHE/done" ]; then
        local tmp; tmp=$(mktemp -d "$CACHE.build.XXXXXX")
        build_images "$tmp" >&2 || { rm -rf "$tmp"; die "image build failed"; }
        touch "$tmp/done"; chmod 755 "$tmp"
        rm -rf "$CACHE"; mv "$tmp" "$CACHE"
    fi
    exec 9>&-
    echo "$CACHE"
}

registry_config() { # BASE PORT — prints the command that serves the registry
    local D=$1/registry reg=127.0.0.1:$2
    check_port "$2"
    images > /dev/null
    mkdir -p "$D/data"
    printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: %s\n' \
        "$D" "$reg" > "$D/config.yml"
    echo "$2" > "$D/port"
    echo "registry=$reg"; echo "registry_cmd=docker-registry serve $D/config.yml"; echo "log=$D/registry.log"
}

registry_push() { # BASE PORT — waits for the registry, then pushes both images
    local D=$1/registry reg=127.0.0.1:$2 i
    for i in $(seq 200); do curl -sf "http://$reg/v2/" > /dev/null && break; sleep 0.05; done
    curl -sf "http://$reg/v2/" > /dev/null || die "registry did not come up on $reg: $(tail -5 "$D/registry.log" 2> /dev/null)"
    for i in pause:3.9 busybox:1.35; do
        skopeo copy -q --dest-tls-verify=false "oci:$CACHE/${i%%:*}:${i##*:}" "docker://$reg/test/$i" \
            || die "skopeo copy $i to $reg failed"
    done
}

registry_up() { # BASE PORT
    local D=$1/registry
    registry_config "$1" "$2"
    if ! { [ -f "$D/registry.pid" ] && alive "$(cat "$D/registry.pid")"; }; then
        setsid bash -c 'echo $$ > "$0"; exec docker-registry serve "$1"' "$D/registry.pid" "$D/config.yml" \
            > "$D/registry.log" 2>&1 < /dev/null &
    fi
    registry_push "$1" "$2"
    echo "registry_pid=$(cat "$D/registry.pid")"
}

cgroup_mounts() { awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts; }

make_cgroups() { # CG
    local cg=$1 mp
    for mp in $(cgroup_mounts); do
        [ -d "$mp/$cg" ] && continue
        mkdir "$mp/$cg" 2>/dev/null || { [ -d "$mp/$cg" ] || die "cannot create cgroup $mp/$cg"; }
        if [ -f "$mp/cpuset.cpus" ] && [ -f "$mp/$cg/cpuset.cpus" ] && [ ! -f "$mp/cgroup.controllers" ]; then
            cat "$mp/cpuset.cpus" > "$mp/$cg/cpuset.cpus"   # v1 cpuset: empty cpus/mems reject tasks
            cat "$mp/cpuset.mems" > "$mp/$cg/cpuset.mems"
        fi
        if [ -f "$mp/$cg/cgroup.controllers" ]; then   # v2: let runc's cgroups use the controllers
            for c in $(cat "$mp/$cg/cgroup.controllers"); do
                echo "+$c" > "$mp/$cg/cgroup.subtree_control" 2>/dev/null || true
            done
        fi
    done
}

remove_cgroups() { # CG — kills what is still inside (only pods of this node can be there)
    local cg=$1 mp d i left
    for i in $(seq 100); do
        left=0
        for mp in $(cgroup_mounts); do
            [ -d "$mp/$cg" ] || continue
            while read -r d; do
                # cgroupfs files report size 0, so read them rather than test -s.
                xargs -r kill -9 < "$d/cgroup.procs" 2> /dev/null || true
                rmdir "$d" 2>/dev/null || left=1
            done < <(find "$mp/$cg" -depth -type d)
        done
        [ $left = 0 ] && return 0
        sleep 0.05
    done
    echo "cri-env: could not remove every cgroup of $cg" >&2
}

node_config() { # BASE PORT NAME SUBNET [netns]
    local base=$1 port=$2 name=$3 subnet=$4 mode=${5:-host} N br cg reg h
    check_port "$port"; check_name "$name"
    N=$base/nodes/$name; br=$(bridge_of "$name"); cg=$(cgroup_of "$name"); reg=127.0.0.1:$port
    python3 -c "import ipaddress,sys; sys.exit(not ipaddress.ip_network('$subnet').subnet_of(ipaddress.ip_network('$POD_SUPERNET')))" \
        2> /dev/null || die "subnet '$subnet' is not inside $POD_SUPERNET"
    ip route replace unreachable "$POD_SUPERNET"   # safety net, see the header
    images > /dev/null
    mkdir -p "$N"/{net.d,certs.d,cni/ipam,opt,pods}
    for h in "localhost:$port" "$reg"; do
        mkdir -p "$N/certs.d/$h"
        printf 'server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n' \
            "$reg" "$reg" > "$N/certs.d/$h/hosts.toml"
    done
    cat > "$N/net.d/10-$name.conflist" <<EOF
{ "cniVersion": "1.0.0", "name": "kedge-$name",
  "plugins": [
    { "type": "bridge", "bridge": "$br", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$subnet" }]], "dataDir": "$N/cni/ipam" } },
    { "type": "portmap", "capabilities": { "portMappings": true } } ] }
EOF
    cat > "$N/config.toml" <<EOF
version = 2
root  = "$N/root"
state = "$N/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$N/containerd.sock"
[ttrpc]
  address = "$N/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$N/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "localhost:$port/test/pause:3.9"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    disable_apparmor = true
    restrict_oom_score_adj = true        # needed where CAP_SYS_RESOURCE is not in the bounding set
    netns_mounts_under_state_dir = true  # pod netns under \$state, not /var/run/netns
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "/usr/sbin/runc"
          Root = "$N/runc"
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$N/net.d"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$N/certs.d"
EOF
    make_cgroups "$cg"
    echo "$mode" > "$N/mode"; echo "$port" > "$N/port"
    local cmd="containerd --config $N/config.toml"
    if [ "$mode" = netns ]; then
        [ -e "/var/run/netns/cri-$name" ] || ip netns add "cri-$name"
        ip netns exec "cri-$name" ip link set lo up
        cmd="nsenter --net=/var/run/netns/cri-$name $cmd"   # not `ip netns exec`: it hides cgroups
    fi
    echo "node=$name"; echo "dir=$N"; echo "sock=$N/containerd.sock"; echo "bridge=$br"
    echo "subnet=$subnet"; echo "cgroup_parent=/$cg"; echo "mode=$mode"; echo "netns=cri-$name"
    echo "containerd_cmd=$cmd"; echo "log=$N/containerd.log"
    echo "busybox_image=localhost:$port/test/busybox:1.35"; echo "pause_image=localhost:$port/test/pause:3.9"
    echo "image_cache=$CACHE"
}

# Imports the cached images (a node in its own netns cannot reach the loopback registry).
import_images() { # SOCK PORT
    local i
    for i in pause:3.9 busybox:1.35; do
        ctr -a "$1" -n k8s.io images import "$CACHE/${i%%:*}.oci.tar" > /dev/null
        ctr -a "$1" -n k8s.io images tag --force "kedge.test/test/$i" "localhost:$2/test/$i" > /dev/null
    done
}

node_up() { # BASE PORT NAME SUBNET [netns]
    local out N i
    out=$(node_config "$@"); echo "$out"
    N=$1/nodes/$3
    if ! { [ -f "$N/containerd.pid" ] && alive "$(cat "$N/containerd.pid")"; }; then
        # shellcheck disable=SC2046
        setsid bash -c 'echo $$ > "$0"; exec "$@"' "$N/containerd.pid" \
            $(grep '^containerd_cmd=' <<< "$out" | cut -d= -f2-) > "$N/containerd.log" 2>&1 < /dev/null &
    fi
    for i in $(seq 200); do [ -S "$N/containerd.sock" ] && ctr --connect-timeout 1s -a "$N/containerd.sock" version > /dev/null 2>&1 && break; sleep 0.05; done
    ctr -a "$N/containerd.sock" version > /dev/null 2>&1 || die "containerd $3 did not come up (see $N/containerd.log)"
    if [ "$(cat "$N/mode")" = netns ]; then import_images "$N/containerd.sock" "$2"; fi
    echo "containerd_pid=$(cat "$N/containerd.pid")"
}

containerd_stop() { # BASE NAME
    local N=$1/nodes/$2
    [ -f "$N/containerd.pid" ] && stop_pid "$(cat "$N/containerd.pid")" "containerd --config $N/config.toml"
    return 0
}

remove_pods() { # N — the blunt fallback; the project's CRI client should remove its own pods
    local s=$1/containerd.sock t i
    # ctr waits 10 s on a socket nobody serves: only ask a live containerd.
    [ -S "$s" ] && [ -f "$1/containerd.pid" ] && alive "$(cat "$1/containerd.pid")" || return 0
    ctr --connect-timeout 2s -a "$s" version > /dev/null 2>&1 || return 0
    for t in $(ctr -a "$s" -n k8s.io tasks ls -q 2> /dev/null); do
        ctr -a "$s" -n k8s.io tasks kill -a -s SIGKILL "$t" > /dev/null 2>&1 || true
    done
    for i in $(seq 100); do
        ctr -a "$s" -n k8s.io tasks ls 2> /dev/null | awk 'NR > 1 && $3 != "STOPPED"' | grep -q . || break
        sleep 0.05
    done
    for t in $(ctr -a "$s" -n k8s.io tasks ls -q 2> /dev/null); do
        ctr -a "$s" -n k8s.io tasks delete -f "$t" > /dev/null 2>&1 || true
    done
    for t in $(ctr -a "$s" -n k8s.io containers ls -q 2> /dev/null); do
        ctr -a "$s" -n k8s.io containers rm "$t" > /dev/null 2>&1 || true
    done
}

unmount_under() { # DIR — deepest first; lazy when busy
    local dir=$1 m i
    for i in 1 2 3; do
        m=$(awk -v d="$dir/" 'index($2, d) == 1 {print length($2) " " $2}' /proc/self/mounts | sort -rn | cut -d' ' -f2-)
        [ -z "$m" ] && return 0
        while read -r p; do
            p=$(printf '%b' "$p")   # /proc/mounts escapes spaces as \040
            umount "$p" 2> /dev/null || umount -l "$p" 2> /dev/null || true
        done <<< "$m"
    done
    awk -v d="$dir/" 'index($2, d) == 1' /proc/self/mounts | grep -q . && echo "cri-env: mounts left under $dir" >&2
    return 0
}

node_down() { # BASE NAME
    local base=$1 name=$2 N p
    check_name "$name"; N=$base/nodes/$name
    [ -d "$N" ] || return 0
    remove_pods "$N"
    containerd_stop "$base" "$name"
    # Shims outlive containerd; ours are the ones pointing at this node's socket.
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/exe" 2> /dev/null) == */containerd-shim* ]] || continue
        stop_pid "${p#/proc/}" "-address $N/containerd.sock "
    done
    remove_cgroups "$(cgroup_of "$name")"   # kills leftover pod processes first
    unmount_under "$N"
    ip link del "$(bridge_of "$name")" 2> /dev/null || true
    ip netns del "cri-$name" 2> /dev/null || true
    echo "node $name down"
}

down() { # BASE
    local base=$1 n
    for n in "$base"/nodes/*/; do [ -d "$n" ] && node_down "$base" "$(basename "$n")"; done
    [ -f "$base/registry/registry.pid" ] &&
        stop_pid "$(cat "$base/registry/registry.pid")" "docker-registry serve $base/registry/config.yml"
    return 0
}

case "${1:-}" in
    images) images ;;
    registry-up) registry_up "${2:?base}" "${3:?port}" ;;
    registry-config) registry_config "${2:?base}" "${3:?port}" ;;
    registry-push) registry_push "${2:?base}" "${3:?port}" ;;
    import-images) import_images "$2/nodes/${3:?name}/containerd.sock" "$(cat "$2/nodes/$3/port")" ;;
    node-config) node_config "${2:?base}" "${3:?port}" "${4:?name}" "${5:?subnet}" "${6:-host}" ;;
    node-up) node_up "${2:?base}" "${3:?port}" "${4:?name}" "${5:?subnet}" "${6:-host}" ;;
    containerd-stop) containerd_stop "${2:?base}" "${3:?name}" ;;
    node-down) node_down "${2:?base}" "${3:?name}" ;;
    down) down "${2:?base}" ;;
    *) sed -n '2,26p' "$0"; exit 2 ;;
esac

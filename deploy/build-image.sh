#!/usr/bin/env bash
# Builds deploy/Dockerfile's CPU image with buildah on a Debian machine that reaches Debian's mirror
# and a Python package index but no container registry. Run as root from anywhere:
#
#   nice -n 19 ionice -c3 deploy/build-image.sh        # -> localhost/hubert-stream:cpu
#
# 1. The base image comes from debootstrap instead of a registry: a minimal Debian of this machine's
#    release with python3 and python3-venv (the Dockerfile installs into a venv at /opt/venv).
# 2. torch comes from the CPU wheel that this machine's pip resolves (pip config: an index or a
#    find-links folder), served to the build as a small index on 127.0.0.1 and passed as TORCH_INDEX.
#    Set TORCH_INDEX to skip that (e.g. https://download.pytorch.org/whl/cpu where it is reachable).
# 3. buildah builds with vfs storage and chroot isolation: both work as root without overlayfs,
#    user namespaces or cgroups, so inside another container or a small VM too. --network host lets
#    the RUN steps reach the mirror, PyPI and the local torch index.
# 4. The image is checked: torch is the CPU build and no nvidia-* package is installed.
#
# Environment: WORK (scratch folder, default /var/tmp/hubert-stream-image), SUITE (Debian release,
# default this machine's), MIRROR, IMAGE (tag, default localhost/hubert-stream:cpu), TORCH_INDEX.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/var/tmp/hubert-stream-image}
# shellcheck source=/dev/null
SUITE=${SUITE:-$(. /etc/os-release && echo "$VERSION_CODENAME")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
IMAGE=${IMAGE:-localhost/hubert-stream:cpu}
BASE=localhost/debian-python:$SUITE
# The Dockerfile's own default, so the wheel served here is the one it asks for.
TORCH_VERSION=$(sed -n 's/^ARG TORCH_VERSION=//p' "$REPO/deploy/Dockerfile")

# vfs: plain directory copies, no overlay mounts (which a container or VM kernel may refuse).
# chroot: no user namespaces, cgroups or OCI runtime needed; root in the build is root on the host.
# (The default, oci with crun, refuses where the host mounts cgroups v1 and v2 side by side.)
buildah() { command buildah --storage-driver vfs "$@"; }
export BUILDAH_ISOLATION=chroot

for tool in buildah debootstrap python3; do
    command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install buildah debootstrap python3" >&2; exit 1; }
done
mkdir -p "$WORK"
start=$SECONDS

# What a run leaves behind, whether it ends well or not: the index server, its wheels, a container.
server="" index="" ctr=""
cleanup() {
    if [ -n "$server" ]; then kill "$server"; fi
    if [ -n "$index" ]; then rm -rf "$index"; fi
    if [ -n "$ctr" ]; then buildah rm "$ctr" >/dev/null; fi
}
trap cleanup EXIT

# ----- 1. base image: debootstrap + buildah from scratch ------------------------------------------
if [ -z "$(buildah images -q "$BASE" 2>/dev/null)" ]; then
    rootfs=$WORK/rootfs
    rm -rf "$rootfs"
    # minbase: dpkg, apt and the required packages only; ca-certificates for pip's HTTPS.
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$rootfs" "$MIRROR"
    # The package cache and lists are dead weight (the Dockerfile runs apt-get update); resolv.conf
    # and hostname are this machine's, and the container runtime provides its own.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
    : >"$rootfs/etc/resolv.conf"
    echo localhost >"$rootfs/etc/hostname"
    # The release's security and point-release updates, as Debian's own images list them.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # The base trusts what this machine trusts: certificates in the host's bundle that Debian's lacks
    # (a proxy that re-signs TLS, say) go where update-ca-certificates keeps local CAs.
    python3 - /etc/ssl/certs/ca-certificates.crt "$rootfs" <<'PY'
import pathlib, re, sys

def certificates(bundle: pathlib.Path) -> dict[str, str]:
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", bundle.read_text(), re.S)
    return {"".join(pem.split()): pem for pem in pems}

host, rootfs = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
debian = certificates(rootfs / "etc/ssl/certs/ca-certificates.crt")
extra = [pem for key, pem in certificates(host).items() if key not in debian] if host.exists() else []
for number, pem in enumerate(extra):
    (rootfs / f"usr/local/share/ca-certificates/host-{number}.crt").write_text(pem + "\n")
print(f"{len(extra)} CA certificate(s) of this machine added to the base")
PY
    chroot "$rootfs" update-ca-certificates
    # buildah has no `import`: copy the tree into an empty container's mount, keeping owners,
    # modes and file capabilities (buildah copy would make every file root's).
    ctr=$(buildah from scratch)
    mnt=$(buildah mount "$ctr")
    tar -C "$rootfs" --numeric-owner --xattrs -cf - . | tar -C "$mnt" --numeric-owner --xattrs -xpf -
    buildah umount "$ctr"
    # An image from scratch has no PATH; the Dockerfile's `ENV PATH=/opt/venv/bin:$PATH` extends it.
    # A venv's pip trusts only the certificates bundled with it unless PIP_CERT names the system's.
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt --cmd /bin/bash "$ctr"
    buildah commit --rm "$ctr" "$BASE"
    ctr=""
    rm -rf "$rootfs"
    echo "base image $BASE after $((SECONDS - start)) s"
fi

# ----- 2. torch index: this machine's CPU wheel and its dependencies, on 127.0.0.1 ----------------
if [ -z "${TORCH_INDEX:-}" ]; then
    index=$WORK/torch-index
    rm -rf "$index"
    mkdir -p "$index/files"
    # Wheels for the base's Python and this CPU, whatever Python runs this script.
    ctr=$(buildah from --pull=never "$BASE")
    python=$(buildah run "$ctr" -- python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    buildah rm "$ctr" >/dev/null
    ctr=""
    python3 -m pip download --quiet --dest "$index/files" --only-binary=:all: \
        --python-version "$python" --implementation cp --platform "manylinux_2_28_$(uname -m)" \
        "torch==$TORCH_VERSION"
    # PyPI's Linux torch is a CUDA build that brings nvidia-* wheels: refuse it for the CPU image.
    if compgen -G "$index/files/nvidia*" >/dev/null; then
        echo "pip resolved torch==$TORCH_VERSION to a CUDA build here; set TORCH_INDEX to a CPU index" >&2
        exit 1
    fi
    # A PEP 503 simple index: simple/<normalized project>/index.html linking the wheels.
    python3 - "$index" <<'PY'
import hashlib, pathlib, re, sys
from collections import defaultdict

root = pathlib.Path(sys.argv[1])
projects = defaultdict(list)
for wheel in sorted((root / "files").glob("*.whl")):
    projects[re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()].append(wheel)
for project, wheels in projects.items():
    links = "".join(
        f'<a href="../../files/{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">{w.name}</a>\n'
        for w in wheels
    )
    page = root / "simple" / project / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
PY
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 -m http.server --bind 127.0.0.1 --directory "$index" "$port" >"$WORK/torch-index.log" 2>&1 &
    server=$!
    python3 - "$port" <<'PY'
import sys, time, urllib.request

for _ in range(50):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/simple/torch/", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the local torch index does not answer")
PY
    TORCH_INDEX=http://127.0.0.1:$port/simple
    echo "torch index $TORCH_INDEX: $(basename "$index"/files/torch-*.whl)"
fi

# ----- 3. the image ------------------------------------------------------------------------------
build_start=$SECONDS
buildah bud --isolation chroot --network host --pull=never \
    --build-arg "BASE_IMAGE=$BASE" --build-arg "TORCH_INDEX=$TORCH_INDEX" \
    -f "$REPO/deploy/Dockerfile" -t "$IMAGE" "$REPO"
echo "built $IMAGE in $((SECONDS - build_start)) s ($((SECONDS - start)) s in all)"

# ----- 4. checks ---------------------------------------------------------------------------------
ctr=$(buildah from --pull=never "$IMAGE")
buildah run "$ctr" -- python -c \
    'import torch; assert torch.version.cuda is None, torch.version.cuda; print("torch", torch.__version__, "(CPU)")'
packages=$(buildah run "$ctr" -- pip list --format=freeze)
if grep -i '^nvidia' <<<"$packages"; then
    echo "the image carries nvidia-* packages" >&2
    exit 1
fi
buildah images "$IMAGE"

#!/usr/bin/env bash
# Installs the system packages Callcast needs, from Debian's archive, when they are missing.
#   scripts/install-system-deps.sh runtime   # what `make start` needs (ffmpeg, fonts)
#   scripts/install-system-deps.sh test      # plus what the test suite needs (nginx + RTMP module, PostgreSQL, openssl, Chromium,
#                                            # GStreamer webrtcbin, rtmpdump, iproute2, iptables, Redis, Xvfb, PulseAudio)
set -euo pipefail
profile="${1:-runtime}"

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
want() { for p in "$@"; do have_pkg "$p" || need+=("$p"); done; }

want ffmpeg fonts-dejavu-core ca-certificates
if [ "$profile" = "test" ]; then
  want nginx libnginx-mod-rtmp libnginx-mod-stream postgresql openssl procps chromium
  # Interop peers: GStreamer's webrtcbin as a WHIP publisher (Python bindings, libnice, codecs),
  # rtmpdump to pull broadcasts back, network namespaces (iproute2) and a NAT (iptables).
  want python3 python3-gi python3-gst-1.0 gir1.2-gst-plugins-bad-1.0 gstreamer1.0-tools gstreamer1.0-nice \
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
    rtmpdump iproute2 iptables
  # Cluster mode (Redis beside PostgreSQL); a virtual display and a sound server for layout apps
  # rendered by Chromium (Xvfb captured by ffmpeg's x11grab, PulseAudio's null sink for their sound).
  want redis-server xvfb pulseaudio
fi

if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi

echo "Installing system packages: ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "error: missing packages (${need[*]}) and not root; install them with apt-get" >&2
    exit 1
  fi
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian nginx and Redis packages start system servers; the tests start their own instances.
if [ "$profile" = "test" ] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl stop nginx >/dev/null 2>&1 || true
  $SUDO systemctl stop redis-server >/dev/null 2>&1 || true
fi

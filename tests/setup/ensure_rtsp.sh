#!/usr/bin/env bash
# A real RTSP camera for tests/test_rtsp.py: Debian's GStreamer RTSP server, driven by
# tests/rtsp_server.py under Debian's own Python 3 (it has python3-gi; a venv's does not),
# and ffmpeg, which encodes the sample media and the test clips.
set -euo pipefail
bash "$(dirname "$0")/apt_install.sh" \
  ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0 \
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad

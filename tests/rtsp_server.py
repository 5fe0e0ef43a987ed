"""A real RTSP camera for the tests: serve one H.264 MP4 at rtsp://HOST:PORT/PATH.

Run with Debian's /usr/bin/python3 (it has python3-gi; a venv's python does not):
    /usr/bin/python3 tests/rtsp_server.py VIDEO.mp4 [--port 8554] [--path cam1]
It prints "ready rtsp://..." once it listens, and serves until killed. Each client gets
the file from its start (GStreamer's RTSP server paces it in real time).
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--path", default="cam1")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{args.video}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )'
    )
    server.get_mount_points().add_factory(f"/{args.path}", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on {args.host}:{args.port}")
    print(f"ready rtsp://{args.host}:{args.port}/{args.path}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()

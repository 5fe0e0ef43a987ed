#!/usr/bin/env bash
# Headless Chromium and its driver for the browser tests (dash.testing) and screenshots.
set -euo pipefail
bash "$(dirname "$0")/apt_install.sh" chromium chromium-driver

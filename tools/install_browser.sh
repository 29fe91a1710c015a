#!/usr/bin/env bash
# Installs the browser that tests/test_browser.py drives: Debian's chromium at /usr/bin/chromium.
# Called by `make browser-deps`. Playwright (the Python package, installed by `make setup`) drives this
# system build; it never downloads a browser of its own (`playwright install` is not used).
#
# Does nothing when chromium is already there. Needs root for apt-get; without root it prints the command.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
EMOJI=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf  # the workbooks' 🔴 🔵 ⏱ in the screenshots

if [ -x "$CHROMIUM" ] && [ -e "$EMOJI" ]; then
  echo "browser-deps: $CHROMIUM is installed"
  exit 0
fi

command=(apt-get install -y -qq chromium chromium-driver fonts-noto-color-emoji)
if [ "$(id -u)" -ne 0 ]; then
  echo "browser-deps: $CHROMIUM is missing; install it as root with:" >&2
  echo "  sudo apt-get update && sudo ${command[*]}" >&2
  exit 1
fi

echo "browser-deps: installing chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
"${command[@]}" >/dev/null
"$CHROMIUM" --version 2>/dev/null  # (Debian's launcher script warns on stderr about nothing that matters)

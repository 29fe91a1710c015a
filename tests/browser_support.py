"""What tests/test_browser.py needs to drive the course like a learner: a private JupyterLab server on loopback,
Debian's chromium through Playwright, and the few JupyterLab gestures the tests use (open, run all, wait, save).

Everything waits on a condition with a bound; nothing asserts on how long a step took.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "run `make browser-deps` (Debian's chromium) and `make setup` (the playwright package)"
# Flags for a closed network and a container: no sandbox (root), no GPU, and no background calls home.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JupyterLab settings for a test: every cell stays in the page (no windowing), so the page can be read
# whole; only Ctrl+S writes the notebook (no autosave racing it); no pop-up about news covers the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

SERVER_START_S = 120  # bounds for waits on a slow, busy machine; none of them is an assertion on speed
PAGE_S = 180
EXPECT_S = 60
RUN_ALL_S = 600
SAVE_S = 60


def require_browser() -> None:
    """Skip when chromium or playwright is missing; with SUPERPOSE_REQUIRE_BROWSER=1 (CI), fail instead."""
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(str(CHROMIUM))
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if missing:
        message = f"the browser test needs {' and '.join(missing)}: {INSTALL_HINT}"
        if os.environ.get("SUPERPOSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{message} (SUPERPOSE_REQUIRE_BROWSER=1, so this is an error)", pytrace=False)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class JupyterLab:
    """A JupyterLab server serving `root_dir` on 127.0.0.1 with a token, in its own process group."""

    root_dir: Path
    home: Path
    port: int = 0
    token: str = ""
    process: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path}{separator}token={self.token}"

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(self.url(f"api/{path}"), method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def start(self) -> JupyterLab:
        self.port, self.token = _free_port(), secrets.token_hex(16)
        settings = self.home / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.port_retries=0",
        ]
        if os.name == "posix" and os.geteuid() == 0:  # CI and containers run as root
            command.append("--allow-root")
        env = {
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
            "PATH": str(Path(sys.executable).parent),
            "HOME": str(self.home),
        }
        self.log = (self.home / "jupyterlab.log").open("wb")
        self.process = subprocess.Popen(
            command, cwd=self.root_dir, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                self.api("status")
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"JupyterLab exited at start:\n{self.log_tail()}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not answer within {SERVER_START_S} s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.5)

    def log_tail(self, chars: int = 3000) -> str:
        return (self.home / "jupyterlab.log").read_text(errors="replace")[-chars:]

    def shutdown_kernels(self) -> None:
        for kernel in self.api("kernels"):
            self.api(f"kernels/{kernel['id']}", method="DELETE")

    def stop(self) -> None:
        """Stop the server, then whatever is left of its process group (its kernels)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()


def copy_into(folder: Path, *relative_paths: str) -> None:
    """Copy course files (paths relative to the repository) into `folder`, flat."""
    folder.mkdir(parents=True, exist_ok=True)
    for relative in relative_paths:
        shutil.copy(ROOT / relative, folder / Path(relative).name)


def launch_chromium(playwright):
    """Debian's chromium, headless; Playwright's `expect` then waits up to EXPECT_S for what it checks."""
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_S * 1000)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)


# --- gestures in the JupyterLab page -------------------------------------------------------------------------

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CELLS = f"{NOTEBOOK} .jp-Notebook .jp-Cell"

# Sets window.sawRunning when any input prompt shows [*], so that a wait can tell "finished" from "not started".
_WATCH_PROMPTS = """() => {
    window.sawRunning = false;
    if (window.promptWatcher) window.promptWatcher.disconnect();
    const look = () => {
        if (document.querySelector('.jp-InputPrompt') &&
            [...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'))) {
            window.sawRunning = true;
        }
    };
    window.promptWatcher = new MutationObserver(look);
    window.promptWatcher.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""

_FINISHED = """(notebook) => {
    const panel = document.querySelector(notebook);
    if (!window.sawRunning || !panel) return false;
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
    const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
    return prompts.every(p => !p.textContent.includes('*')) &&
        indicator !== null && indicator.dataset.status === 'idle';
}"""


def open_notebook(page, lab: JupyterLab, name: str) -> None:
    """Open `name` in JupyterLab and wait until its kernel has started and is idle. `reset` starts from an empty
    workspace, so that a notebook an earlier test opened does not come back in a second tab."""
    page.goto(lab.url(f"lab/tree/{name}?reset"), timeout=PAGE_S * 1000)
    page.locator(CELLS).first.wait_for(timeout=PAGE_S * 1000)
    page.wait_for_function(
        """(notebook) => {
            const panel = document.querySelector(notebook);
            const indicator = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
            const kernel = panel && panel.querySelector('.jp-KernelName');
            return indicator !== null && indicator.dataset.status === 'idle' &&
                kernel !== null && kernel.textContent.includes('Python');
        }""",
        arg=NOTEBOOK,
        timeout=PAGE_S * 1000,
        polling=500,
    )


def watch_for_running(page) -> None:
    page.evaluate(_WATCH_PROMPTS)


def wait_until_finished(page, timeout_s: float = RUN_ALL_S) -> None:
    """After `watch_for_running` and a run: wait until no cell is queued or running and the kernel is idle."""
    page.wait_for_function(_FINISHED, arg=NOTEBOOK, timeout=timeout_s * 1000, polling=1000)
    page.wait_for_timeout(1000)  # outputs of the last message settle; checked again below
    page.wait_for_function(_FINISHED, arg=NOTEBOOK, timeout=timeout_s * 1000, polling=1000)


def run_all_cells(page, timeout_s: float = RUN_ALL_S) -> None:
    """Run → Run All Cells from the menu bar, then wait until every queued cell has finished."""
    watch_for_running(page)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    wait_until_finished(page, timeout_s)


def replace_cell_source(page, index: int, source: str) -> None:
    """Click into code cell `index` (0-based among all cells), select its text and type `source` over it."""
    editor = page.locator(CELLS).nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)


def run_current_cell(page, timeout_s: float = RUN_ALL_S) -> None:
    """Ctrl+Enter in the cell being edited: run it in place, then wait until it has finished."""
    watch_for_running(page)
    page.keyboard.press("Control+Enter")
    wait_until_finished(page, timeout_s)


def save(page, path: Path) -> dict:
    """Ctrl+S, wait until JupyterLab marks the notebook clean and the file on disk is new; return the saved JSON."""
    before = path.stat().st_mtime_ns
    page.locator(f"{NOTEBOOK} .jp-Notebook").first.focus()
    page.keyboard.press("Control+s")
    page.locator("#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)").wait_for(timeout=SAVE_S * 1000)
    deadline = time.monotonic() + SAVE_S
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, f"{path.name} was not written within {SAVE_S} s of Ctrl+S"
        time.sleep(0.2)
    return json.loads(path.read_text())


def output_area(page, index: int):
    """The output area of cell `index` (0-based among all cells), as a Playwright locator."""
    return page.locator(CELLS).nth(index).locator(".jp-Cell-outputArea")


def saved_errors(notebook: dict) -> list[str]:
    """'cell N: Ename: value' for every error output in a saved notebook."""
    return [
        f"cell {index}: {output['ename']}: {output['evalue']}"
        for index, cell in enumerate(notebook["cells"])
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    ]


def rendered_errors(page) -> list[str]:
    """The text of every rendered traceback in the page (JupyterLab shows errors as stderr with a traceback)."""
    texts = page.locator(f"{NOTEBOOK} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [text for text in texts.all_inner_texts() if "Traceback" in text or "Error:" in text]

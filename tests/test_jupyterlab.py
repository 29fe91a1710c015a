"""`make lab` works: JupyterLab starts headless on a free loopback port and serves the course."""

import urllib.request

from browser_support import ROOT, JupyterLab


def test_jupyterlab_serves_the_course_notebooks(tmp_path):
    lab = JupyterLab(root_dir=ROOT, home=tmp_path).start()
    try:
        served = {item["name"] for item in lab.api("contents/notebooks")["content"]}
        expected = {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
        assert expected and expected <= served
        with urllib.request.urlopen(lab.url("lab"), timeout=10) as response:
            assert response.status == 200 and b"JupyterLab" in response.read()
        assert lab.api("contents/exercises/00_start_here.ipynb")["type"] == "notebook"
    finally:
        lab.stop()

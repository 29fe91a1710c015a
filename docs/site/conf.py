"""Sphinx settings of the course website. Build it with `make site` (tools/build_site.py), not sphinx-build:
the build script stages this folder next to the lectures and writes `_site.json` (repository, branch, MathJax)."""

import json
from pathlib import Path

site = json.loads((Path(__file__).parent / "_site.json").read_text())

project = "superpose"
author = "the superpose authors"
copyright = "the superpose authors, MIT licence"

extensions = ["myst_nb"]
exclude_patterns = ["_extra", "_build", "Thumbs.db", ".DS_Store"]
html_extra_path = ["_extra"]  # the workbooks and solutions, downloadable at exercises/ and solutions/
html_static_path = ["_static"]
html_css_files = ["course.css"]

# The site shows the outputs stored in the notebooks; nothing runs at build time.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

if site["mathjax_local"]:
    mathjax_path = "mathjax/tex-mml-chtml.js"  # relative to _static/
else:
    mathjax_path = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"

html_theme = "sphinx_book_theme"
html_title = "superpose"
html_theme_options = {
    "repository_url": f"https://github.com/{site['repository']}",
    "repository_branch": site["ref"],
    "path_to_docs": "",  # the staged lectures sit at notebooks/, as in the repository
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {
        "colab_url": "https://colab.research.google.com",
        "binderhub_url": "https://mybinder.org",
        "notebook_interface": "jupyterlab",
    },
    "home_page_in_toc": True,
    "show_toc_level": 2,
}

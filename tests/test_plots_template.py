"""The offline `dvc plots` template: pinned vega files inlined byte for byte, configured in .dvc/config."""

import configparser

import build_plots_template as template
from conftest import REPO


def test_template_inlines_exactly_the_pinned_vega_files():
    assert template.problems() == []


def test_dvc_config_uses_the_template_and_a_default_remote():
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    assert (REPO / ".dvc" / config["plots"]["html_template"]).resolve() == template.TEMPLATE
    remote = config["core"]["remote"]
    assert config[f'\'remote "{remote}"\'']["url"] == "../../digit-concepts-dvc-storage"


def test_a_changed_file_is_caught(tmp_path):
    changed = tmp_path / "offline.html"
    text = template.TEMPLATE.read_text(encoding="utf-8")
    changed.write_text(text.replace('"use strict";', '"use strict";window.x=1;', 1), encoding="utf-8")
    assert any("vega:" in problem and "sha256" in problem for problem in template.problems(changed))
    changed.write_text(text.replace("{plot_divs}", "{scripts}{plot_divs}"), encoding="utf-8")
    assert any("{scripts}" in problem for problem in template.problems(changed))

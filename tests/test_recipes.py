"""The recipes for opening saved models, run as they are written (docs/recipes.md, between the ``recipes``
markers), on the committed models and the real datasets of the mirror."""
import re

import pytest

from common.config import PROJECT_ROOT

RECIPES = PROJECT_ROOT / "docs" / "recipes.md"


def recipes() -> list[str]:
    text = RECIPES.read_text()
    section = text.split("<!-- recipes:start -->", 1)[1].split("<!-- recipes:end -->", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_has_a_recipe_per_model_kind():
    found = recipes()
    assert len(found) == 3
    assert "cnn_mnist-quick.pth" in found[0] and "GradCAM(" in found[1] and "slstm_nmnist_small-quick.pth" in found[2]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["cnn", "spiking_cnn", "spiking_lstm"])
def test_recipe_runs_as_written(index, mirror, tmp_path, monkeypatch):
    """From another working folder (as a notebook's kernel in notebooks/), with the data root in a scratch
    folder (the frames' cache), the mirror found as the study finds it."""
    code = recipes()[index]
    for model in re.findall(r'"(models/[^"]+\.pth)"', code):
        if not (PROJECT_ROOT / model).is_file():
            pytest.skip(f"{model} is not in this checkout")
    dataset = {0: "MNIST", 1: "NMNIST", 2: "NMNIST"}[index]
    if not (mirror / dataset).is_dir():
        pytest.skip(f"the mirror has no {dataset}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNN_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("SNN_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("SNN_OFFLINE", "1")
    scope = {}
    exec(compile(code, f"docs/recipes.md recipe {index}", "exec"), scope)
    import numpy as np
    maps = {0: ["maps"], 1: ["per_bin", "whole_clip"], 2: ["per_bin", "whole_clip"]}[index]
    assert all(isinstance(scope[name], np.ndarray) for name in maps)     # the recipes say the helpers return numpy
    if index == 0:
        assert scope["logits"].shape == (100, 10) and scope["maps"].shape == (8, 28, 28)
        assert (scope["logits"].argmax(1) == scope["test"].labels).float().mean() > 0.95   # raw inputs: 83% before
    if index == 1:
        T = scope["T"]
        assert scope["spikes"].shape == (T, 1, 10) and scope["per_bin"].shape == (T, 34, 34)
        assert scope["maps"].shape == (T, 34, 34) and scope["maps"].max() > 0
    if index == 2:
        assert scope["spikes"].shape == (25, 1, 10) and scope["per_bin"].shape == (25, 34, 34)
        assert scope["whole_clip"].shape == (34, 34) and scope["per_bin"].max() > 0     # the trained model's maps

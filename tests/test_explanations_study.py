"""common/study/explanations.py: the where-and-deletion table from tiny models, its cache and its findings."""
import numpy as np
import torch

from common.explanations.attributions import CAPTUM_METHODS
from common.networks.registry import build_model
from common.study import explanations as S


def sample(n=4, T=3):
    generator = torch.Generator().manual_seed(0)
    x = torch.zeros(n, T * 2, 34, 34)
    for i in range(n):
        r, c = torch.randint(6, 22, (2,), generator=generator).tolist()
        x[i, :, r:r + 8, c:c + 8] = 2.0
    return {"inputs": x, "labels": torch.arange(n) % 10, "indices": list(range(n))}


def test_explain_model_measures_every_method_and_reuses_its_cache(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = build_model("scnn", beta=0.8).eval()
    with torch.no_grad():
        model.conv1.weight.mul_(4)
    cache = S.MapCache(tmp_path)
    out = S.explain_model("scnn_nmnist_beta0.8", model, sample(), 3, ["GradCAM"], cache, "k1", shares=(0, 0.5, 1))
    assert list(out["methods"]) == ["GradCAM", "GradCAM per bin", *CAPTUM_METHODS, "SAM", "random", "centre blob"]
    for method, result in out["methods"].items():
        assert result["curves"].shape == (3, 4), method
        assert set(result["measures"]) >= {"heat_on_object", "pointing", "edge_distance"}
    assert out["methods"]["SAM"]["maps"].shape == (4, 3, 34, 34)
    assert "grid" in out["methods"]["GradCAM"]

    def refuse(*args, **kwargs):
        raise AssertionError("a cached map was computed again")

    monkeypatch.setattr(S, "method_maps", refuse)
    again = S.explain_model("scnn_nmnist_beta0.8", model, sample(), 3, ["GradCAM"], cache, "k1", shares=(0, 0.5, 1))
    assert np.array_equal(again["methods"]["SAM"]["maps"], out["methods"]["SAM"]["maps"])
    try:                                                   # another key (checkpoint, sample, seed): computed anew
        S.explain_model("scnn_nmnist_beta0.8", model, sample(), 3, ["GradCAM"], cache, "k2", shares=(0, 0.5, 1))
        raise RuntimeError("not recomputed")
    except AssertionError:
        pass


def fake_evaluation(levels, n=20, seed=0):
    """Deletion curves whose area is about ``level`` per method (2 shares: the area is the mean of both points)."""
    rng = np.random.default_rng(seed)
    methods = {}
    for method, level in levels.items():
        curves = (rng.random((2, n)) < level).astype(np.float32)
        methods[method] = {"curves": curves, "seconds": 1.0,
                           "measures": {m: rng.random(n) for m in S.WHERE_SUMMARY}}
    return {"classes": [0] * n, "accuracy": 1.0, "methods": methods, "sample": "nmnist-T3"}


def test_summary_says_which_methods_beat_random_and_blob_per_kind():
    evaluations = {"scnn_nmnist_beta0.8": fake_evaluation({"SAM": 0.05, "GradCAM": 0.6, "random": 0.95,
                                                           "centre blob": 0.6}),
                   "cnn_nmnist_summed": fake_evaluation({"Occlusion": 0.05, "random": 0.95, "centre blob": 0.95}, seed=1)}
    samples = {"nmnist-T3": {"dataset": "nmnist", "n": 20, "per_class": 2, "time_bins": 3, "indices": []}}
    results = S.summarise_explanations(evaluations, samples, "smoke", shares=(0.0, 1.0))
    rows = {(r["model"], r["method"]): r for r in results["rows"]}
    assert rows["scnn_nmnist_beta0.8", "SAM"]["against_centre_blob"]["beats"]
    assert rows["scnn_nmnist_beta0.8", "GradCAM"]["against_random"]["beats"]
    assert not rows["scnn_nmnist_beta0.8", "GradCAM"]["against_centre_blob"]["beats"]
    assert "against_random" not in rows["scnn_nmnist_beta0.8", "random"]
    n_tests = sum(1 for r in results["rows"] for k in ("against_random", "against_centre_blob") if k in r)
    assert n_tests == 6
    table = S.explanations_table(results)
    assert table.loc[("spiking CNN", "scnn_nmnist_beta0.8", "SAM"), "vs blob"].endswith("*")
    text = "\n".join(S.explanations_findings(results))
    assert "spiking CNN (scnn_nmnist_beta0.8): beat both the random order and the blob: SAM; the random order only: " \
           "GradCAM" in text
    assert "conventional CNN on events (cnn_nmnist_summed): beat both the random order and the blob: Occlusion" in text
    assert "20 NMNIST test samples (2 per class)" in text
    answer = S.explanations_answer(results)                  # the README's sentence
    assert answer.endswith("20 test samples per model)? spiking CNN: SAM; conventional CNN on events: Occlusion. "
                           "No CAM method (1 tried, Grad-CAM among them) beats both on any model.")


def saved_tiny_model(tmp_path, monkeypatch, weights="w1"):
    """A tiny spiking CNN standing for a saved run: ``open_saved`` hands it out with its sample, and its card holds
    the weights checksum the results' stamp reads."""
    import json

    torch.manual_seed(0)
    model = build_model("scnn", beta=0.8).eval()
    with torch.no_grad():
        model.conv1.weight.mul_(4)
    path = tmp_path / "models" / "scnn_nmnist_beta0.8-smoke.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps({"weights_sha256": weights}))
    clips = sample()
    described = {"nmnist-T3": {"dataset": "nmnist", "split": "test", "n": 4, "per_class": 1, "time_bins": 3,
                               "indices": clips["indices"]}}
    monkeypatch.setattr(S, "open_saved", lambda *a, **k: ({"scnn_nmnist_beta0.8": (path, model, 3, "nmnist-T3")},
                                                          {"nmnist-T3": clips}, described, {}))
    return path


def refuse(*args, **kwargs):
    raise AssertionError("computed again")


def test_a_resume_reuses_the_results_file_computed_from_the_same_inputs_and_only_that(tmp_path, monkeypatch):
    """A fresh clone's notebook 09 reads the committed tables instead of computing every map again; another
    checkpoint (its weights checksum) or other settings compute them anew."""
    saved_tiny_model(tmp_path, monkeypatch)
    where = dict(models=["scnn_nmnist_beta0.8"], cam_methods=["GradCAM"], shares=(0, 0.5, 1))
    first, evaluations = S.run_explanations("smoke", None, None, tmp_path, per_class=1, **where)
    assert evaluations and first["stamp"]
    road = S.run_study("smoke", None, None, tmp_path, per_class=1, methods=["GradCAM"], removed=(50,),
                       models=["scnn_nmnist_beta0.8"])
    assert road["featured"]["run"] == "scnn_nmnist_beta0.8" and road["featured"]["per_bin"]["rows"]
    arrays = S.load_close_up("smoke", tmp_path)           # the pictures and maps beside the results file
    assert road["featured"]["methods"] == ["GradCAM"] and arrays["map GradCAM"].shape == arrays["pictures"].shape
    assert len(arrays["pictures"]) == len(road["featured"]["picks"]) == 3

    monkeypatch.setattr(S, "explain_model", refuse)
    monkeypatch.setattr(S, "evaluate_model", refuse)
    again, none = S.run_explanations("smoke", None, None, tmp_path, per_class=1, **where)
    assert again == first and none == {}
    assert S.run_study("smoke", None, None, tmp_path, per_class=1, methods=["GradCAM"], removed=(50,),
                       models=["scnn_nmnist_beta0.8"]) == road
    for changed in (dict(where, shares=(0, 1)), dict(where, cam_methods=["EigenCAM"])):
        try:
            S.run_explanations("smoke", None, None, tmp_path, per_class=1, **changed)
            raise RuntimeError("reused results computed with other settings")
        except AssertionError:
            pass
    saved_tiny_model(tmp_path, monkeypatch, weights="w2")        # the checkpoint was trained again
    for study in (lambda: S.run_explanations("smoke", None, None, tmp_path, per_class=1, **where),
                  lambda: S.run_study("smoke", None, None, tmp_path, per_class=1, methods=["GradCAM"], removed=(50,),
                                      models=["scnn_nmnist_beta0.8"])):
        try:
            study()
            raise RuntimeError("reused results of another checkpoint")
        except AssertionError:
            pass

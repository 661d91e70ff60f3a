"""common/explanations/faithfulness.py: CAM maps of every model kind through the library, its metric classes,
the results file and the findings lines computed from it."""
import numpy as np
import pytest
import torch

import common  # noqa: F401
from common.explanations import faithfulness as F
from common.study import explanations as S
from common.networks.registry import build_model

T = 4


def clips(n=4, seed=0):
    """Event clips as the metrics take them, [N, T * 2, 34, 34], with a blob of events each."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, T * 2, 34, 34)
    for i in range(n):
        r, c = torch.randint(6, 24, (2,), generator=generator).tolist()
        x[i, :, r:r + 6, c:c + 6] = torch.randint(0, 3, (T * 2, 6, 6), generator=generator).float()
    return x


@pytest.mark.parametrize("method", ["GradCAM", "EigenCAM", "ScoreCAM", "AblationCAM"])
def test_spiking_maps_are_one_per_clip_and_the_model_is_put_back(method):
    torch.manual_seed(0)
    model = build_model("scnn", beta=0.8).eval()
    layer = model.gradcam_layer
    x = clips()
    maps = F.cam_maps(model, x, [0, 1, 2, 3], method, n_time_bins=T)
    assert maps.shape == (4, 34, 34) and np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    assert model.gradcam_layer is layer and model.time_chunk == "auto"       # unwrapped on exit


def test_time_pooled_grad_cam_is_the_whole_clip_map_of_grad_cam_over_time():
    from common.explanations.gradcam import grad_cam_over_time

    torch.manual_seed(0)
    model = build_model("scnn", beta=0.8).eval()
    with torch.no_grad():                       # strong enough weights that the clip makes output spikes
        model.conv1.weight.mul_(4)
    x = clips(1)
    clip = x[0].unflatten(0, (T, 2))
    _, whole = grad_cam_over_time(model, clip, target_class=3)
    ours = F.cam_maps(model, x, [3], "GradCAM", n_time_bins=T)[0]
    if whole.max() > 0:
        assert np.allclose(ours, (whole - whole.min()) / max(whole.max() - whole.min(), 1e-7), atol=1e-4)


@pytest.mark.parametrize("name, kwargs", [("cnn_events", {"input_form": "summed"}),
                                          ("cnn_events", {"input_form": "time_bins_as_channels", "n_time_bins": T})])
def test_event_cnn_maps_and_scores(name, kwargs):
    torch.manual_seed(0)
    model = build_model(name, **kwargs).eval()
    x = clips()
    with F.explainable(model, T) as (scorer, _, _):
        classes = F.decisions(scorer, x).tolist()
    maps = F.cam_maps(model, x, classes, "GradCAMPlusPlus", n_time_bins=T)
    scores = F.score_maps(model, x, maps, classes, T, removed=(20, 80))
    assert scores["morf"].shape == (2, 4) and scores["road_combined"].shape == (4,)
    assert set(np.unique(scores["morf"])) <= {-1.0, 0.0, 1.0}          # changes of a decision


def test_decision_kept_is_one_only_for_an_outright_winner():
    assert F.DecisionKept(1)(torch.tensor([0.0, 3.0, 1.0])) == 1
    assert F.DecisionKept(1)(torch.tensor([3.0, 3.0, 1.0])) == 0         # a tie is no decision
    assert F.DecisionKept(0)(torch.tensor([0.0, 3.0, 1.0])) == 0


# the library's own imputer, called directly here, passes a torch tensor to np.argwhere (NumPy 2 deprecation)
@pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context:DeprecationWarning")
def test_road_combined_is_the_library_classes_definition():
    """Our combination of the per-percentile MoRF and LeRF scores equals pytorch-grad-cam's ROADCombined."""
    from pytorch_grad_cam.metrics.road import ROADCombined

    torch.manual_seed(0)
    model = build_model("cnn").eval()
    x = torch.rand(6, 1, 28, 28)
    classes = model(x).argmax(1).tolist()
    maps = F.cam_maps(model, x, classes, "GradCAM")
    # removing 20/50/80% is the library's percentiles 80/50/20, the same set; ties as the library reads them
    ours = F.score_maps(model, x, maps, classes, removed=(20, 50, 80), break_ties=False)["road_combined"]
    targets = [F.DecisionKept(c) for c in classes]
    theirs = ROADCombined(percentiles=[20, 50, 80])(x, maps, targets, model)
    assert np.abs(ours - theirs).max() <= 1 / 6 + 1e-6    # equal up to the imputer's noise (one flip in 3 x 2)
    assert np.isclose(ours.mean(), theirs.mean(), atol=0.1)



class Recorder:
    """An imputer that imputes nothing and keeps the library's mask (0: imputed)."""

    def __init__(self):
        self.masks = []

    def __call__(self, img, mask):
        self.masks.append(mask.clone())
        return img


@pytest.mark.parametrize("side", ["morf", "lerf"])
@pytest.mark.parametrize("removed", [20, 50, 80])
def test_road_removes_the_share_it_is_labelled_with(side, removed):
    """F.road(side, r) imputes r% of a map's pixels: the most relevant for MoRF, the least for LeRF, by the library's
    own mask (its percentile p imputes 100 - p%)."""
    from pytorch_grad_cam.metrics.road import ROADMostRelevantFirst

    cam = torch.from_numpy(np.random.default_rng(0).permutation(34 * 34).reshape(34, 34).astype(np.float32) / 1155)
    metric = F.road(side, removed)
    recorder = Recorder()
    metric.perturbation.imputer.imputer = recorder                   # inside the CountingImputer
    metric.perturbation(torch.ones(2, 34, 34), cam)
    imputed = recorder.masks[0] == 0
    assert abs(imputed.float().mean().item() - removed / 100) <= 1 / 1156
    assert metric.perturbation.imputer.shares == [pytest.approx(imputed.float().mean().item())]
    if side == "morf":
        assert cam[imputed].min() > cam[~imputed].max()             # the most relevant went
    else:
        assert cam[imputed].max() < cam[~imputed].min()             # the least relevant went
    library = ROADMostRelevantFirst(removed)                          # the library's own label is the share kept
    library.perturbation.imputer = recorder
    library.perturbation(torch.ones(2, 34, 34), cam)
    assert abs((recorder.masks[1] == 0).float().mean().item() - (100 - removed) / 100) <= 1 / 1156
    with pytest.raises(ValueError):
        F.road(side, 120)


def test_ties_are_broken_so_the_share_removed_is_the_share_asked():
    """A map that is 70% zeros: the library imputes every tied pixel (LeRF 20% takes all the zeros, MoRF of a map
    with a flat top takes the whole top); its ranks lose exactly the share asked."""
    rng = np.random.default_rng(1)
    cam = np.zeros((34, 34), np.float32)
    hot = rng.choice(34 * 34, int(0.3 * 34 * 34), replace=False)
    cam.flat[hot] = 1.0                                              # the other 30% at one value: a flat top
    shares = {}
    for name, m in (("raw", cam), ("ranked", F.ranks(cam[None])[0])):
        for side in ("morf", "lerf"):
            metric = F.road(side, 20)
            metric.perturbation.imputer.imputer = Recorder()
            metric.perturbation(torch.ones(2, 34, 34), torch.from_numpy(m))
            shares[name, side] = metric.perturbation.imputer.shares[0]
    assert shares["raw", "lerf"] >= 0.69 and shares["raw", "morf"] >= 0.29      # the ties decide
    assert abs(shares["ranked", "lerf"] - 0.2) <= 1 / 1156 and abs(shares["ranked", "morf"] - 0.2) <= 1 / 1156


def test_score_maps_removes_the_asked_share_of_a_map_with_many_zeros():
    torch.manual_seed(0)
    model = build_model("cnn").eval()
    x = torch.rand(3, 1, 28, 28)
    classes = model(x).argmax(1).tolist()
    maps = np.zeros((3, 28, 28), np.float32)
    maps[:, 10:16, 10:16] = np.random.default_rng(0).random((3, 6, 6))      # 95% zeros
    ranked = F.score_maps(model, x, maps, classes, removed=(20, 50, 80))
    for side in ("morf", "lerf"):
        assert ranked["removed_share"][side].shape == (3, 3)
        assert np.allclose(ranked["removed_share"][side], np.array([0.2, 0.5, 0.8])[:, None], atol=1 / 784)
    raw = F.score_maps(model, x, maps, classes, removed=(20, 50, 80), break_ties=False)
    assert (raw["removed_share"]["lerf"] > 0.9).all()                # every zero imputed, whatever was asked
    assert set(np.unique(ranked["morf"])) <= {-1.0, 0.0, 1.0}


def test_baselines():
    random = F.baseline_maps("random", 3, (28, 28))
    blob = F.baseline_maps("centre blob", 3, (28, 28))
    assert random.shape == blob.shape == (3, 28, 28) and not np.allclose(random[0], random[1])
    assert np.unravel_index(blob[0].argmax(), (28, 28)) in {(13, 13), (13, 14), (14, 13), (14, 14)}
    with pytest.raises(ValueError, match="unknown baseline"):
        F.baseline_maps("sobel", 1, (28, 28))


def test_stratified_sample_takes_the_same_number_of_every_class():
    labels = [0, 0, 1, 2, 1, 0, 2, 2, 1]
    chosen = S.stratified_sample(labels, 2)
    assert sorted(labels[i] for i in chosen) == [0, 0, 1, 1, 2, 2]


def fake_results():
    """Two N-MNIST models on the same 12 recordings, two methods and a baseline, through summarise."""
    rng = np.random.default_rng(0)
    def evaluation(shift):
        methods = {}
        for method, level in (("GradCAM", 0.3), ("EigenCAM", 0.1), ("random", 0.0)):
            morf = -np.clip(rng.random((2, 12)) * 0 + level + shift, 0, 1).round()
            lerf = np.zeros((2, 12))
            methods[method] = {"maps": None, "scores": {"morf": morf, "lerf": lerf,
                                                        "road_combined": ((lerf - morf) / 2).mean(0) + rng.normal(0, 0.05, 12) + level + shift,
                                                        "cam_mult_confidence_change": np.zeros(12)}}
        return {"classes": list(range(12)), "accuracy": 1.0, "methods": methods}
    evaluations = {"scnn_nmnist_beta0.8": evaluation(0.0), "cnn_nmnist_summed": evaluation(0.4)}
    samples = {"nmnist-T25": {"dataset": "nmnist", "split": "test", "n": 12, "per_class": 1, "time_bins": 25,
                              "indices": list(range(12))}}
    return S.summarise(evaluations, samples, "smoke", removed=(20, 80))


def test_summarise_holds_every_model_method_metric_with_intervals_and_the_sample():
    results = fake_results()
    assert len(results["scores"]) == 2 * 3 * len(F.METRICS)
    assert all({"n", "mean", "low", "high"} <= set(s) for s in results["scores"])
    assert results["sample"]["nmnist-T25"]["n"] == 12
    assert "spiking LSTM" in results["not_evaluated"]
    assert results["removed_percent"] == [20, 80] and "percentiles" not in results
    assert S.removed_percent(results) == [20, 80] and S.removed_percent({"percentiles": [20, 80]}) == [80, 20]
    lines = {(c["method"], c["conventional"]): c for c in results["comparison"] if c["kind"] == "pair"}
    assert lines[("GradCAM", "cnn_nmnist_summed")]["verdict"] == "differs"       # a 0.4 shift on 12 recordings
    assert all(c["holm_p"] >= c["wilcoxon_p"] for c in results["comparison"])


def test_findings_lines_are_computed_from_the_results(tmp_path):
    import json

    results = fake_results()
    path = tmp_path / "faithfulness-smoke.json"
    path.write_text(json.dumps(results))
    lines = S.findings_lines(path)
    text = "\n".join(lines)
    assert lines == S.findings_lines(results)
    best = next(s for s in results["scores"] if s["model"] == "scnn_nmnist_beta0.8" and s["method"] == "GradCAM"
                and s["metric"] == "road_combined")
    assert f"GradCAM is the most faithful on average, {best['mean']:+.3f}" in text
    assert "12 NMNIST test samples (1 per class)" in text and "they differ for" in text
    comparison = next(c for c in results["comparison"] if c["method"] == "GradCAM")
    assert f"{comparison['difference_mean']:+.3f}" in text
    random = next(s for s in results["scores"] if s["model"] == "scnn_nmnist_beta0.8" and s["method"] == "random"
                  and s["metric"] == "road_combined")
    assert f"baselines: random maps {random['mean']:+.3f}." in lines[1]
    beaten = "(a map that knows nothing of the input scores above the best method on average"
    for blob_mean, shown in ((best["mean"] - 0.1, False), (best["mean"] + 0.1, True)):
        blob = dict(random, method="centre blob", mean=blob_mean)
        line = S.findings_lines(dict(results, scores=results["scores"] + [blob]))[1]
        assert f"random maps {random['mean']:+.3f}; a centre blob {blob_mean:+.3f}" in line
        assert (beaten in line) == shown



def test_blob_against_best_is_tested_paired_in_the_same_holm_family_on_unrounded_scores():
    """A blob 0.3 above the best method on 12 recordings: the blob-versus-best line is in the comparison, Holm-adjusted
    over the pairs and itself, it differs, and the findings line cites it; per-sample scores keep every digit."""
    results = fake_results()
    rng = np.random.default_rng(1)
    evaluations = {}
    for run in ("scnn_nmnist_beta0.8", "cnn_nmnist_summed"):
        methods = {}
        for method, level in (("GradCAM", 0.1), ("EigenCAM", 0.0), ("random", -0.1), ("centre blob", 0.4)):
            combined = level + rng.normal(0, 0.05, 12) + 1e-5 / 3
            methods[method] = {"maps": None, "scores": {"morf": np.zeros((1, 12)), "lerf": np.zeros((1, 12)),
                                                        "road_combined": combined,
                                                        "cam_mult_confidence_change": np.zeros(12)}}
        evaluations[run] = {"classes": list(range(12)), "accuracy": 1.0, "methods": methods}
    out = S.summarise(evaluations, results["sample"], "smoke", removed=(50,))
    blob = [c for c in out["comparison"] if c["kind"] == "blob vs best"]
    assert {c["model"] for c in blob} == set(evaluations) and all(c["method"] == "GradCAM" for c in blob)
    assert all(c["verdict"] == "differs" and c["difference_mean"] > 0.2 for c in blob)
    ps = sorted(c["wilcoxon_p"] for c in out["comparison"])
    assert all(c["holm_p"] >= c["wilcoxon_p"] * (len(ps) - ps.index(c["wilcoxon_p"])) - 1e-12 or c["holm_p"] == 1
               for c in out["comparison"])                      # adjusted over the whole family, blob lines included
    stored = out["road_combined_per_sample"]["cnn_nmnist_summed"]["GradCAM"]
    assert stored == [float(v) for v in evaluations["cnn_nmnist_summed"]["methods"]["GradCAM"]["scores"]["road_combined"]]
    assert any(round(v, 4) != v for v in stored)                 # not rounded
    line = S.findings_lines(out)[1]
    assert "scores above the best method on average; paired per model" in line and "blob minus GradCAM" in line


def test_the_spiking_lstm_has_its_own_findings_line_and_leaves_not_evaluated():
    results = fake_results()
    assert S.SPIKING_LSTM_RUN in S.MODELS and S.SPIKING_LSTM_RUN in S.settings("quick")["models"]
    lstm = dict(results, models={**results["models"], S.SPIKING_LSTM_RUN: {"dataset": "nmnist"}},
                scores=results["scores"] + [dict(s, model=S.SPIKING_LSTM_RUN) for s in results["scores"]
                                            if s["model"] == "scnn_nmnist_beta0.8"])
    text = "\n".join(S.findings_lines(lstm))
    assert f"spiking LSTM models ({S.SPIKING_LSTM_RUN}): GradCAM is the most faithful" in text
    assert "20/80% of each map's pixels removed, ties broken at random" in text
    evaluation = {"classes": [0], "accuracy": 1.0, "methods": {}}
    summary = S.summarise({S.SPIKING_LSTM_RUN: evaluation}, {}, "quick", removed=(50,))
    assert "spiking LSTM" not in summary["not_evaluated"]

# ---------------------------------------------------------------- per-bin maps against the whole-clip map

def test_each_bin_is_imputed_under_its_own_map():
    """ROAD through EachBin: in bin t exactly the pixels at or above map t's median are imputed, the rest are kept."""
    from pytorch_grad_cam.metrics.perturbation_confidence import RemoveMostRelevantFirst
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer

    generator = torch.Generator().manual_seed(0)
    clip = torch.rand(T * 2, 12, 12, generator=generator) + 1
    maps = torch.zeros(T, 12, 12)
    for t in range(T):                                     # bin t's heat in its own band of rows, a ramp across it
        maps[t, 3 * t:3 * t + 3] = torch.arange(1, 13).float()
    perturbed = F.EachBin(RemoveMostRelevantFirst(50, F.CountingImputer(NoisyLinearImputer(noise=0))), T)(clip, F.ranks(maps.numpy()))
    changed = (perturbed != clip).unflatten(0, (T, 2))                          # [T, C, H, W]
    ranked = torch.from_numpy(F.ranks(maps.numpy()))
    removed = ranked >= torch.tensor(np.percentile(ranked.flatten(1).numpy(), 50, axis=1)).view(T, 1, 1)  # half
    for t in range(T):
        assert torch.equal(changed[t, 0], removed[t]) and torch.equal(changed[t, 1], removed[t]), t
        assert removed[t, 3 * t:3 * t + 3].all()                              # its own band went, not another bin's
    one = F.EachBin(RemoveMostRelevantFirst(50, F.CountingImputer(NoisyLinearImputer(noise=0))), T)(clip, ranked[0])
    assert torch.equal(one, F.EachBin(RemoveMostRelevantFirst(50, F.CountingImputer(NoisyLinearImputer(noise=0))), T)(
        clip, ranked[0].expand(T, 12, 12)))                                  # a 2-D map: every bin under it


def test_ranks_keep_the_order_and_split_ties_at_the_share():
    cam = np.zeros((2, 10, 10), dtype=np.float32)
    cam[:, 0, :5] = [0.1, 0.5, 0.2, 0.9, 0.3]                    # 95 tied zeros, 5 distinct values
    ranked = F.ranks(cam)
    assert np.array_equal(np.argsort(ranked[0, 0, :5]), np.argsort(cam[0, 0, :5]))
    assert ranked[0, 0, :5].min() > ranked[0].reshape(-1)[5:].max()       # the heat above every zero
    assert np.array_equal(ranked[0], ranked[1]) and np.array_equal(F.ranks(cam[0]), ranked[0])   # equal maps rank alike
    share = (ranked >= np.percentile(ranked[0], 80)).mean((1, 2))
    assert np.allclose(share, 0.2, atol=0.011) and (cam[0] >= np.percentile(cam[0], 80)).mean() == 1.0


def spiking_model():
    torch.manual_seed(0)
    model = build_model("scnn", beta=0.8).eval()
    with torch.no_grad():                       # strong enough weights that the clips make output spikes
        model.conv1.weight.mul_(4)
    return model


def test_per_bin_against_whole_clip_on_a_tiny_spiking_model(monkeypatch):
    from common.explanations import gradcam

    model, x = spiking_model(), clips(6)
    with F.explainable(model, T, for_cam=False) as (scorer, _, _):
        classes = F.decisions(scorer, x).tolist()
    out = F.per_bin_against_whole_clip(model, x, classes, T, percentile=50)
    rows = {r["metric"]: r for r in out["rows"]}
    assert set(rows) == {"road_morf", "cam_mult_confidence_change"} and all(r["n"] == 6 for r in rows.values())
    for kind in ("per_bin", "whole_clip"):
        assert all(set(np.unique(v)) <= {-1.0, 0.0, 1.0} for v in out["scores"][kind].values())
        assert np.allclose(out["scores"]["removed_share"][kind], 0.5, atol=0.01)    # ties broken: half of every frame
    assert 0 <= rows["road_morf"]["wilcoxon_p"] <= 1

    # the whole-clip map in every bin as the per-bin maps: both kinds go through one code path, so no difference
    original = gradcam.grad_cam_over_time

    def whole_in_every_bin(model, clip, target_class, **kwargs):
        per_bin, whole = original(model, clip, target_class, **kwargs)
        return np.repeat(gradcam.scale_each(whole[None]), len(per_bin), axis=0), whole

    monkeypatch.setattr(gradcam, "grad_cam_over_time", whole_in_every_bin)
    same = F.per_bin_against_whole_clip(model, x, classes, T, percentile=50)
    for row in same["rows"]:
        assert row["difference_mean"] == 0 and row["wilcoxon_p"] == 1.0, row
    for metric in ("road_morf", "cam_mult_confidence_change"):
        assert np.array_equal(same["scores"]["per_bin"][metric], same["scores"]["whole_clip"][metric])


def test_paired_per_bin_reads_a_difference_over_recordings():
    n = 12
    scores = {"per_bin": {"road_morf": -np.ones(n), "cam_mult_confidence_change": np.zeros(n)},
              "whole_clip": {"road_morf": np.zeros(n), "cam_mult_confidence_change": np.zeros(n)},
              "removed_share": {"per_bin": np.full(n, 0.5), "whole_clip": np.full(n, 0.5)}}
    rows = {r["metric"]: r for r in F.paired_per_bin(scores)}
    assert rows["road_morf"]["difference_mean"] == -1 and rows["road_morf"]["wilcoxon_p"] < 0.01
    assert rows["road_morf"]["better"] == "lower" and rows["road_morf"]["removed_share_whole_clip"] == 0.5
    assert rows["cam_mult_confidence_change"]["wilcoxon_p"] == 1.0

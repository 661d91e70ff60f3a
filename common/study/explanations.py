"""The explanation study: how faithful and where, for every model of the study and every method.

Two parts, both on fixed stratified test samples (the same recordings for every N-MNIST model):

- ROAD (notebook 09's first sections, ``results/faithfulness-<profile>.json``): the CAM methods' whole-clip maps
  scored by pytorch-grad-cam's metrics (common.explanations.faithfulness), against random maps and a centre blob; the
  question's pairs (the spiking CNN against each conventional CNN) and, per model, the centre blob against the best
  CAM method, paired over recordings in one Holm family, on unrounded scores.
- Where the heat is and the deletion test (``results/explanations-<profile>.json``, :func:`run_explanations`,
  ``python -m common.study.explanations --profile quick``): every CAM, Grad-CAM per time bin and SAM for the spiking
  models, Captum's Integrated Gradients, Occlusion and Input x Gradient; each map's heat on the object, pointing game
  and peak's distance to the edge (common.explanations.where), and how fast removing the input's events in the map's
  order takes the decision away, against a random order and the centre blob. Maps are cached, so a resume reuses them.

The methods live in common/explanations/; this module samples, runs, summarises, plots and writes the findings.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.data.datasets import is_images
from common.explanations.attributions import CAPTUM_METHODS, captum_maps
from common.explanations.faithfulness import (BASELINES, BETTER, DELETED, METHODS, METRICS, baseline_maps, cam_maps,
                                              decisions, deletion_area, deletion_curves, explainable, interval,
                                              is_spiking, per_bin_against_whole_clip, score_maps)
from common.explanations.sam import sam_maps
from common.explanations.where import BORDER as BORDER_PX
from common.explanations.where import INK, measure, object_mask, peaks_on_grid_border
from common.runs.specs import SPECS, profile_settings

# The runs a profile may explain (the study's N-MNIST models and the MNIST CNN), with their datasets; a run whose
# checkpoint is absent is reported as such. slstm_nmnist_small: the spiking LSTM at the spiking CNN's size on
# N-MNIST's official split (notebook 06).
SPIKING_LSTM_RUN = "slstm_nmnist_small"
MODELS = {run: SPECS[run].dataset for run in profile_settings("faithfulness", "full")["models"]}
REMOVED = tuple(profile_settings("faithfulness", "full")["removed"])   # % of each map's pixels removed


def settings(profile: str, **given) -> dict:
    """The profile's sample size, methods, ROAD shares removed (%) and models (``PROFILE_SETTINGS["faithfulness"]``
    of common/runs/specs.py), with every ``given`` one that is not None."""
    chosen = {k: v for k, v in profile_settings("faithfulness", profile).items() if not k.startswith("where_")}
    return {**chosen, **{k: v for k, v in given.items() if v is not None}}


# The question's pairs: the spiking CNN against each conventional CNN on the same recordings.
PAIRS = (("scnn_nmnist_beta0.8", "cnn_nmnist_summed"), ("scnn_nmnist_beta0.8", "cnn_nmnist_time_bins"))
QUESTION_METRIC = "road_combined"
SPIKING_LSTM = f"not among this profile's models (faithfulness.MODELS has it: {SPIKING_LSTM_RUN})"

# ---------------------------------------------------------------- the sample, the models, the table

def stratified_sample(labels, per_class: int) -> list[int]:
    """The first ``per_class`` samples of every class (round-robin, common.data.readers.balanced_subset)."""
    from common.data.readers import balanced_subset

    labels = [int(l) for l in labels]
    return balanced_subset(labels, per_class * len(set(labels)))


def load_sample(dataset: str, per_class: int, data_root, mirror, n_time_bins: int | None = None,
                raw: bool = False, target_size=None) -> dict:
    """The test sample of ``dataset``: ``inputs`` as the metrics take them (images ``[N, 1, 28, 28]`` standardised,
    as the library expects them and the study's loaders feed them: ROAD's imputation noise may leave [0, 1]; with
    ``raw``, pixels in [0, 1], zero being no ink, for a model loaded with ``raw_inputs``; clips
    ``[N, T * 2, H, W]`` of event counts, pooled to ``target_size`` as the run was trained), ``labels`` and
    ``indices`` into the test split."""
    from common.data.datasets import describe

    if describe(dataset).kind == "images":
        from common.data.images import load_image_dataset

        test = load_image_dataset(dataset, False, data_root, mirror)
        chosen = stratified_sample(test.labels.tolist(), per_class)
        mean, std = (0.0, 1.0) if raw else describe(dataset).mean_std
        return {"inputs": (test.images[chosen].float() / 255 - mean) / std, "labels": test.labels[chosen],
                "indices": chosen}
    from common.data.events import event_frames

    frames = event_frames(dataset, False, n_time_bins, data_root, mirror, progress=False,
                          target_size=tuple(target_size) if target_size else None)
    chosen = stratified_sample(frames.labels.tolist(), per_class)
    clips = frames.frames[chosen].float()                          # [N, T, C, H, W]
    return {"inputs": clips.flatten(1, 2), "labels": frames.labels[chosen], "indices": chosen}


def checkpoint_path(run: str, profile: str, output_root) -> Path:
    return Path(output_root) / "models" / f"{run}-{profile}.pth"


def open_saved(models, profile: str, output_root, data_root, mirror, per_class: int, raw_images: bool = True):
    """The saved ``models`` of ``profile`` and their test samples, for both parts of the study: ``(opened, loaded,
    samples, absent)``. ``opened``: ``{run: (checkpoint, model, n_time_bins, sample_key)}``, the model taking raw
    images in [0, 1] (zero is no ink) with ``raw_images``, standardised ones without; ``loaded``: each sample
    (:func:`load_sample`, once per dataset and frame shape, the dataset and frame size read from the checkpoint's
    config, so a gesture seed's run needs no spec of its name); ``samples``: what each is; ``absent``: why a run
    was not opened."""
    from common.runs.checkpoint import load_model, time_bins

    opened, loaded, samples, absent = {}, {}, {}, {}
    for run in models:
        path = checkpoint_path(run, profile, output_root)
        if not path.is_file():
            absent[run] = f"no checkpoint {path.name}: run its notebook in the {profile} profile first"
            continue
        model, meta = load_model(path, raw_inputs=True)
        config = meta["config"]
        dataset = config["dataset"]
        if is_images(dataset) and not raw_images:
            model, meta = load_model(path, raw_inputs=False)
        n_time_bins = None if is_images(dataset) else time_bins(config)
        target_size = (config.get("data") or {}).get("target_size")
        key = f"{dataset}" + (f"-T{n_time_bins}" if n_time_bins else "") + (
            f"-{target_size[0]}x{target_size[1]}" if target_size else "")
        if key not in loaded:
            loaded[key] = load_sample(dataset, per_class, data_root, mirror, n_time_bins, raw=raw_images,
                                      target_size=target_size)
            samples[key] = {"dataset": dataset, "split": "test", "n": len(loaded[key]["labels"]),
                            "per_class": per_class, "time_bins": n_time_bins, "indices": loaded[key]["indices"]}
        opened[run] = (path, model, n_time_bins, key)
    return opened, loaded, samples, absent


def evaluate_model(run: str, model: nn.Module, sample: dict, methods, n_time_bins: int | None,
                   removed=REMOVED, seed: int = 0) -> dict:
    """Every method's and baseline's maps and per-sample scores for one model: ``{method: {"maps", "scores"}}``,
    plus ``classes`` (what was explained) and ``accuracy`` on the sample."""
    from tqdm.auto import tqdm

    inputs = sample["inputs"]
    with explainable(model, n_time_bins, for_cam=False) as (scorer, _, _):
        classes = decisions(scorer, inputs).tolist()
    out = {"classes": classes, "accuracy": float(np.mean(np.asarray(classes) == sample["labels"].numpy())), "methods": {}}
    for method in tqdm([*methods, *BASELINES], desc=run, leave=False):
        maps = (baseline_maps(method, len(inputs), tuple(inputs.shape[-2:]), seed) if method in BASELINES
                else cam_maps(model, inputs, classes, method, n_time_bins))
        out["methods"][method] = {"maps": maps, "scores": score_maps(model, inputs, maps, classes, n_time_bins,
                                                                     removed, seed)}
    return out


def paired_test(a, b) -> dict:
    """``a - b`` paired over samples: its mean with a 95% t-interval and the Wilcoxon signed-rank p (scipy; 1 when
    every difference is 0)."""
    from scipy.stats import wilcoxon

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    difference = a - b
    p = 1.0 if np.allclose(difference, 0) else float(wilcoxon(a, b).pvalue)
    return {**{f"difference_{k}": v for k, v in interval(difference).items()}, "wilcoxon_p": p}


def with_holm(lines: list[dict]) -> list[dict]:
    """Holm's adjustment over the whole family of ``lines`` (common.runs.stats.holm), with each line's verdict."""
    from common.runs.stats import holm, verdict

    for line, adjusted in zip(lines, holm([l["wilcoxon_p"] for l in lines])):
        line["holm_p"], line["verdict"] = adjusted, verdict(adjusted)
    return lines


def best_method(evaluation: dict, metric: str = QUESTION_METRIC) -> str | None:
    """The CAM method with the best mean ``metric`` on this model's sample (chosen on the same sample it is then
    tested on, which favours it: a blob that still beats it beats it clearly)."""
    sign = 1 if BETTER[metric] == "higher" else -1
    cams = {m: r for m, r in evaluation["methods"].items() if m not in BASELINES}
    return max(cams, key=lambda m: sign * float(np.mean(cams[m]["scores"][metric]))) if cams else None


def compare_pairs(evaluations: dict, pairs=PAIRS, metric: str = QUESTION_METRIC) -> list[dict]:
    """One Holm family (Wilcoxon signed-rank, paired over recordings, on unrounded scores) of two questions:
    ``kind="pair"``: spiking against conventional on the same recordings, per method (spiking minus conventional);
    ``kind="blob vs best"``: per model, the centre blob against the model's best CAM method (blob minus best)."""
    lines = []
    for spiking, conventional in pairs:
        if spiking not in evaluations or conventional not in evaluations:
            continue
        for method in evaluations[spiking]["methods"]:
            a = evaluations[spiking]["methods"][method]["scores"][metric]
            b = evaluations[conventional]["methods"][method]["scores"][metric]
            lines.append({"kind": "pair", "spiking": spiking, "conventional": conventional, "method": method,
                          "metric": metric, **paired_test(a, b)})
    for run, evaluation in evaluations.items():
        best = best_method(evaluation, metric)
        if best is None or "centre blob" not in evaluation["methods"]:
            continue
        lines.append({"kind": "blob vs best", "model": run, "method": best, "metric": metric,
                      **paired_test(evaluation["methods"]["centre blob"]["scores"][metric],
                                    evaluation["methods"][best]["scores"][metric])})
    return with_holm(lines)


def summarise(evaluations: dict, samples: dict, profile: str, removed=REMOVED, absent: dict | None = None) -> dict:
    """The results file's content: per model x method x metric the mean with its 95% interval over the sample,
    the ROAD curves with intervals (one point per share removed, ``removed_percent``, each with the mean share the
    library's mask imputed, ``removed_share``), the per-sample ROAD combined scores, the question's tests, and the
    sample."""
    scores, curves, per_sample = [], {}, {}
    for run, evaluation in evaluations.items():
        curves[run], per_sample[run] = {}, {}
        for method, result in evaluation["methods"].items():
            s = result["scores"]
            values = {"road_morf": s["morf"].mean(0), "road_lerf": s["lerf"].mean(0),
                      "road_combined": s["road_combined"], "cam_mult_confidence_change": s["cam_mult_confidence_change"]}
            kind = "baseline" if method in BASELINES else "cam"
            scores += [{"model": run, "method": method, "kind": kind, "metric": m, **interval(v)} for m, v in values.items()]
            shares = s.get("removed_share", {})
            curves[run][method] = {side: [{**interval(row), **({"removed_share": round(float(np.mean(shares[side][k])), 4)}
                                                               if side in shares else {})}
                                          for k, row in enumerate(s[side])] for side in ("morf", "lerf")}
            per_sample[run][method] = [float(v) for v in s["road_combined"]]     # unrounded: the tests read them
    evaluated = set(evaluations)
    not_evaluated = {**(absent or {})}
    if SPIKING_LSTM_RUN not in evaluated and SPIKING_LSTM_RUN not in not_evaluated:
        not_evaluated["spiking LSTM"] = SPIKING_LSTM
    return {"profile": profile, "removed_percent": list(removed),
            "road": "removed_percent r: the share of each map's pixels imputed, the library's ROADMostRelevantFirst"
                    "(100 - r) / ROADLeastRelevantFirst(100 - r) (its percentile is the share kept); maps enter ROAD as "
                    "their pixels' ranks with ties broken at random, so r% is what the library's mask imputes (each "
                    "curve point's removed_share, measured from that mask)",
            "metrics": list(METRICS), "better": BETTER,
            "score": "DecisionKept: 1 while the explained class (the model's decision) wins outright; every metric "
                     "is the change from the unperturbed input",
            "spiking_maps": "one whole-clip map (the CAM layer pooled over time), applied to every time bin",
            "sample": samples, "models": {r: {"dataset": MODELS[r], "accuracy_on_sample": e["accuracy"],
                                              "explained_classes": e["classes"]} for r, e in evaluations.items()},
            "not_evaluated": not_evaluated,
            "scores": scores, "curves": curves, "road_combined_per_sample": per_sample,
            "comparison": compare_pairs(evaluations)}


def results_path(profile: str, output_root) -> Path:
    return Path(output_root) / "results" / f"faithfulness-{profile}.json"


def save_results(results: dict, profile: str, output_root) -> Path:
    """Written atomically (common.files.write_json)."""
    from common.files import write_json

    path = results_path(profile, output_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, results)
    return path


def run_study(profile: str, data_root, mirror, output_root, per_class: int, methods=METHODS,
              removed=REMOVED, models=tuple(MODELS), seed: int = 0) -> dict:
    """Every model of ``models`` with a checkpoint of ``profile``: sample, maps, scores, and the close-up of one
    spiking CNN (:func:`close_up`). Returns the results, also written to ``results/faithfulness-<profile>.json``,
    or that file as it is when it was computed from the same inputs (:func:`inputs_stamp`)."""
    opened, loaded, samples, absent = open_saved(models, profile, output_root, data_root, mirror, per_class,
                                                 raw_images=False)   # images come standardised (load_sample)
    stamp = inputs_stamp(opened, samples, methods=list(methods), removed=list(removed), seed=seed)
    stored = reusable(results_path(profile, output_root), stamp)
    if stored is not None and ("featured" not in stored or close_up_path(profile, output_root).is_file()):
        return stored
    evaluations = {}
    for run, (_, model, n_time_bins, key) in opened.items():
        torch.manual_seed(seed)
        evaluations[run] = evaluate_model(run, model, loaded[key], methods, n_time_bins, removed, seed)
        evaluations[run]["sample"] = key
    results = summarise(evaluations, samples, profile, removed, absent)
    for run, evaluation in evaluations.items():
        results["models"][run]["sample"] = evaluation["sample"]
    featured = next((r for r in FEATURED if r in evaluations), None)
    if featured is not None:
        _, model, n_time_bins, key = opened[featured]
        results["featured"], arrays = close_up(featured, evaluations[featured], loaded[key], model, n_time_bins, seed)
        save_close_up(arrays, profile, output_root)
    results["stamp"] = stamp
    save_results(results, profile, output_root)
    return results


# The spiking CNN notebook 09 shows close up (the first of these that was evaluated).
FEATURED = ("scnn_nmnist_beta0.8", "scnn_nmnist_beta0.5")


def close_up(run: str, evaluation: dict, sample: dict, model: nn.Module, n_time_bins: int, seed: int = 0,
             n: int = 3) -> tuple[dict, dict]:
    """What notebook 09 shows of one spiking run, kept beside the results so a resume shows it without computing a
    map: the ``n`` clips whose CAM maps disagree most (:func:`disagreements`) with every method's ROAD score on them,
    and its per-bin maps against its whole-clip map (50% removed); then the pictures (each clip summed over bins and
    polarities) and every method's maps, as arrays for :func:`save_close_up`."""
    picks = disagreements(evaluation, n)
    methods = [m for m in evaluation["methods"] if m not in BASELINES]
    per_bin = per_bin_against_whole_clip(model, sample["inputs"], evaluation["classes"], n_time_bins, 50, seed)
    summary = {"run": run, "picks": picks, "labels": [int(sample["labels"][k]) for k in picks],
               "classes": [int(evaluation["classes"][k]) for k in picks], "methods": methods,
               "road_combined": {m: [float(evaluation["methods"][m]["scores"]["road_combined"][k]) for k in picks]
                                 for m in methods},
               "per_bin": {"percentile": per_bin["percentile"], "rows": per_bin["rows"]}}
    arrays = {"pictures": sample["inputs"][picks].sum(1).numpy().astype(np.float32),
              **{f"map {m}": np.asarray(evaluation["methods"][m]["maps"])[picks].astype(np.float32) for m in methods}}
    return summary, arrays


def close_up_path(profile: str, output_root) -> Path:
    return Path(output_root) / "results" / f"faithfulness-{profile}-close-up.npz"


def save_close_up(arrays: dict, profile: str, output_root) -> Path:
    """The close-up's pictures and maps, compressed, written atomically beside the results file."""
    from common.files import atomic_file

    path = close_up_path(profile, output_root)
    with atomic_file(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return path


def load_close_up(profile: str, output_root) -> dict:
    with np.load(close_up_path(profile, output_root), allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


# ---------------------------------------------------------------- reading it

def table(results: dict, metric: str | None = None):
    """One row per model x method: every metric's mean [95% interval] (or ``metric``'s mean, low, high)."""
    import pandas as pd

    frame = pd.DataFrame(results["scores"])
    if metric:
        return frame[frame["metric"] == metric].set_index(["model", "method"])[["n", "mean", "low", "high"]]
    frame["value"] = [f"{m:+.3f} [{l:+.3f}, {h:+.3f}]" for m, l, h in zip(frame["mean"], frame["low"], frame["high"])]
    return frame.pivot_table(index=["model", "method"], columns="metric", values="value", aggfunc="first",
                             sort=False)[list(METRICS)]


def removed_percent(results: dict) -> list:
    """The share of pixels each ROAD point removed, in %: ``removed_percent``; a file written before it was labelled
    so holds the library's ``percentiles``, which removed 100 - p%."""
    if "removed_percent" in results:
        return list(results["removed_percent"])
    return [100 - p for p in results["percentiles"]]


def plot_road_curves(results: dict):
    """ROAD most- and least-relevant-first against the share removed, one panel per model, one colour per
    method (baselines dashed), with 95% intervals over the sample."""
    import matplotlib.pyplot as plt

    runs = list(results["curves"])
    fig, axes = plt.subplots(2, len(runs), figsize=(2.6 * len(runs), 5.2), sharex=True, sharey=True, squeeze=False)
    removed = removed_percent(results)
    colours = plt.get_cmap("tab10")
    for j, run in enumerate(runs):
        for i, (method, curve) in enumerate(results["curves"][run].items()):
            style = "--" if method in BASELINES else "-"
            for row, side in enumerate(("morf", "lerf")):
                mean = [c["mean"] for c in curve[side]]
                low = [c["low"] if math.isfinite(c["low"]) else c["mean"] for c in curve[side]]
                high = [c["high"] if math.isfinite(c["high"]) else c["mean"] for c in curve[side]]
                ax = axes[row, j]
                ax.plot(removed, mean, style, color=colours(i % 10), lw=1.2, label=method if j == 0 and row == 0 else None)
                ax.fill_between(removed, low, high, color=colours(i % 10), alpha=0.12)
        axes[0, j].set_title(run.replace("_nmnist", "\nnmnist"), fontsize=8)
        axes[1, j].set_xlabel("% of pixels removed")
    axes[0, 0].set_ylabel("MoRF: decision change\n(lower: more faithful)", fontsize=8)
    axes[1, 0].set_ylabel("LeRF: decision change\n(nearer 0: more faithful)", fontsize=8)
    fig.legend(loc="lower center", ncol=min(len(results["curves"][runs[0]]), 10), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def disagreements(evaluation: dict, n: int = 3) -> list[int]:
    """The ``n`` samples whose CAM methods' maps disagree most: lowest mean pairwise correlation of the maps."""
    cams = [r["maps"] for m, r in evaluation["methods"].items() if m not in BASELINES]
    flat = np.stack([c.reshape(len(c), -1) for c in cams])                        # [M, N, HW]
    flat = flat - flat.mean(-1, keepdims=True)
    flat = flat / np.maximum(np.linalg.norm(flat, axis=-1, keepdims=True), 1e-8)
    pairs = [(i, j) for i in range(len(cams)) for j in range(i + 1, len(cams))]
    agreement = np.mean([(flat[i] * flat[j]).sum(-1) for i, j in pairs], axis=0) if pairs else np.zeros(flat.shape[1])
    return [int(k) for k in np.argsort(agreement)[:n]]


def plot_disagreements(featured: dict, arrays: dict, title: str = ""):
    """One row per clip of the close-up (:func:`close_up`, its arrays from :func:`load_close_up`): the clip (every
    bin and polarity summed), then each method's map on it, titled with its ROAD combined score for that clip."""
    import matplotlib.pyplot as plt

    from common.explanations.gradcam import overlay

    methods, picks = featured["methods"], featured["picks"]
    fig, axes = plt.subplots(len(picks), len(methods) + 1, figsize=(1.5 * (len(methods) + 1), 1.7 * len(picks)),
                             squeeze=False)
    for row in range(len(picks)):
        picture = arrays["pictures"][row]
        axes[row, 0].imshow(picture, cmap="gray")
        axes[row, 0].set_title(f"label {featured['labels'][row]}, explained {featured['classes'][row]}", fontsize=7)
        for col, method in enumerate(methods, 1):
            axes[row, col].imshow(overlay(picture, arrays[f"map {method}"][row]))
            axes[row, col].set_title(f"{method}\nROAD {featured['road_combined'][method][row]:+.2f}", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _best(results: dict, runs: list[str], metric: str = QUESTION_METRIC) -> tuple[str, float, float, float] | None:
    """The CAM method with the best mean ``metric`` averaged over ``runs`` (and its mean interval bounds)."""
    rows = [s for s in results["scores"] if s["model"] in runs and s["metric"] == metric and s["kind"] == "cam"]
    if not rows:
        return None
    by_method = {}
    for s in rows:
        by_method.setdefault(s["method"], []).append(s)
    sign = 1 if BETTER[metric] == "higher" else -1
    method = max(by_method, key=lambda m: sign * np.mean([s["mean"] for s in by_method[m]]))
    chosen = by_method[method]
    return method, *(float(np.mean([s[k] for s in chosen])) for k in ("mean", "low", "high"))


def findings_lines(results: dict | str | Path) -> list[str]:
    """A few markdown lines for the README's findings, every number from ``results`` (the faithfulness results
    file or its content): the most faithful method for the spiking CNNs, for the conventional models and for the
    spiking LSTM where it was evaluated (ROAD combined, higher is more faithful), the random baseline beside it, and
    the question's answer at the level of its test."""
    if not isinstance(results, dict):
        from common.files import read_json
        results = read_json(results)
    metric, lines = QUESTION_METRIC, []
    runs = {r: m["dataset"] for r, m in results["models"].items()}
    spiking = [r for r in runs if r.startswith("scnn")]
    lstm = [r for r in runs if r.startswith("slstm")]
    conventional = [r for r in runs if r.startswith("cnn")]
    baselines = {s["method"]: s["mean"] for s in results["scores"] if s["metric"] == metric and s["kind"] == "baseline"}
    sizes = ", ".join(f"{v['n']} {v['dataset'].upper()} test samples ({v['per_class']} per class)"
                      for v in results["sample"].values())
    shares = "/".join(f"{r:g}" for r in removed_percent(results))
    ties = "ties broken at random, " if "removed_percent" in results else ""
    lines.append(f"**Faithfulness of the explanations** (ROAD combined, pytorch-grad-cam's metrics, the model's decision "
                 f"as the score, higher is more faithful; {shares}% of each map's pixels removed, {ties}{sizes}, the same "
                 f"recordings for every N-MNIST model; "
                 f"95% intervals over samples):")
    comparison = results.get("comparison", [])
    blob_tests = {c["model"]: c for c in comparison if c.get("kind") == "blob vs best"}
    for label, group in (("spiking CNN", spiking), ("conventional", conventional), ("spiking LSTM", lstm)):
        best = _best(results, group, metric)
        if best is None:
            continue
        method, mean, low, high = best
        reference = [s for s in results["scores"] if s["model"] in group and s["metric"] == metric and s["kind"] == "baseline"]
        baseline = {name: np.mean([s["mean"] for s in reference if s["method"] == name]) for name in BASELINES
                    if any(s["method"] == name for s in reference)}
        scored = "; ".join(f"{'random maps' if name == 'random' else 'a centre blob'} {value:+.3f}"
                           for name, value in baseline.items())
        tested = "; ".join(f"{t['model']}: blob minus {t['method']} {t['difference_mean']:+.3f} "
                           f"[{t['difference_low']:+.3f}, {t['difference_high']:+.3f}], Holm p {t['holm_p']:.3g} "
                           f"({t['verdict']})" for r in group if (t := blob_tests.get(r)))
        beaten = (" (a map that knows nothing of the input scores above the best method on average"
                  + (f"; paired per model, in the Holm family below: {tested}" if tested else "") + ")") \
            if baseline.get("centre blob", -math.inf) > mean else ""
        lines.append(f"  - {label} models ({', '.join(group)}): {method} is the most faithful on average, "
                     f"{mean:+.3f} (mean of the models' intervals {low:+.3f} to {high:+.3f})"
                     + (f"; baselines: {scored}{beaten}" if scored else "") + ".")
    tests = [c for c in comparison if c.get("kind", "pair") == "pair" and c["method"] not in BASELINES]
    if tests:
        differing = [c for c in tests if c["verdict"] == "differs"]
        first = tests[0]
        summary = "; ".join(f"{c['method']} {c['difference_mean']:+.3f} [{c['difference_low']:+.3f}, "
                            f"{c['difference_high']:+.3f}], Holm p {c['holm_p']:.3g}"
                            for c in tests if c["conventional"] == first["conventional"])
        answer = (f"they differ for {len(differing)} of {len(tests)} method x pair tests "
                  f"({', '.join(sorted({c['method'] + ' vs ' + c['conventional'] for c in differing}))})"
                  if differing else f"inconclusive in every one of the {len(tests)} method x pair tests (no difference shown, "
                  "none excluded)")
        lines.append(f"  - Are explanations of the spiking CNN (beta 0.8) as faithful as a conventional CNN's on the same "
                     f"{first['difference_n']} recordings? Paired over recordings (Wilcoxon signed-rank, Holm over every "
                     f"method and pair and the blob-versus-best tests): {answer}. Spiking minus {first['conventional']}: {summary}.")
    return lines


# ---------------------------------------------------------------- where the heat is, and the deletion test

DELETION_SHARES = DELETED
KINDS = (("scnn", "spiking CNN"), ("slstm", "spiking LSTM"), ("cnn_nmnist", "conventional CNN on events"),
         ("cnn_mnist", "CNN on MNIST images"), ("scnn_dvsgesture", "spiking CNN (gestures)"),
         ("scnn_dvssign", "spiking CNN (DVS_Sign)"), ("cnn_dvssign", "conventional CNN (DVS_Sign)"),
         ("slstm_dvssign", "spiking LSTM (DVS_Sign)"))
WHERE_SUMMARY = ("heat_on_object", "object_share", "pointing", "edge_distance", "border_heat", "border_share")


def model_kind(run: str) -> str:
    """The kind of model a run is, for the table and the findings (the longest matching prefix)."""
    matches = [(len(prefix), label) for prefix, label in KINDS if run.startswith(prefix)]
    return max(matches)[1] if matches else run


def methods_for(model: nn.Module, cam_methods) -> list[str]:
    """Every method explained for ``model``: the CAMs (one whole-clip map for a model on events), Grad-CAM per
    time bin and SAM for a spiking model, Captum's three, then the two baselines."""
    spiking = is_spiking(model)
    return [*cam_methods, *(["GradCAM per bin"] if spiking else []), *CAPTUM_METHODS,
            *(["SAM"] if spiking else []), *BASELINES]


def method_maps(model: nn.Module, inputs: torch.Tensor, classes: list[int], method: str,
                n_time_bins: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """``(maps, on_grid)``: the method's heat on the input (``[N, H, W]``, or ``[N, T, H, W]`` per bin) and, for a
    CAM, its maps on the layer's grid (where a border peak can be told from its placement)."""
    from common.explanations.gradcam import grad_cam_over_time

    if method in BASELINES:
        return baseline_maps(method, len(inputs), tuple(inputs.shape[-2:]), seed), None
    if method in CAPTUM_METHODS:
        return captum_maps(model, inputs, classes, method, n_time_bins), None
    if method == "SAM":
        return sam_maps(model, inputs, n_time_bins), None
    if method == "GradCAM per bin":
        return np.stack([grad_cam_over_time(model, clip.unflatten(0, (n_time_bins, -1)), int(c))[0]
                         for clip, c in zip(inputs, classes)]), None
    return cam_maps(model, inputs, classes, method, n_time_bins, return_grid=True)


class MapCache:
    """Computed maps and deletion curves, one ``.npz`` per model and method, reused on a resume while the checkpoint
    (its weights' checksum), the sample, the seed and the deletion shares are the same (``key``)."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def path(self, run: str, method: str) -> Path:
        return self.folder / f"{run}--{method.replace(' ', '_')}.npz"

    def get(self, run: str, method: str, key: str) -> dict | None:
        path = self.path(run, method)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["key"]) != key:
                return None
            return {name: stored[name] for name in stored.files if name != "key"}

    def put(self, run: str, method: str, key: str, **arrays) -> None:
        from common.files import atomic_file

        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.path(run, method), suffix=".npz") as tmp:
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, key=np.asarray(key), **{k: v for k, v in arrays.items() if v is not None})


def weights_of(checkpoint: Path) -> str:
    """The checkpoint's weights checksum, from its card (its modification time for a card-less one)."""
    import json

    card = checkpoint.with_suffix(".json")
    return json.loads(card.read_text()).get("weights_sha256", "") if card.is_file() else str(checkpoint.stat().st_mtime)


def digest(*parts) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=list).encode()).hexdigest()


def cache_key(checkpoint: Path, indices, seed: int, shares) -> str:
    return digest(weights_of(checkpoint), list(map(int, indices)), seed, list(shares))


def inputs_stamp(opened: dict, samples: dict, **settings) -> str:
    """What a results file was computed from: every model's weights, each sample's recordings and the settings. A
    resume (a fresh clone's included) whose stamp equals the committed file's reuses that file instead of computing
    every map again."""
    return digest({run: [weights_of(path), key] for run, (path, _, _, key) in opened.items()},
                  {key: list(map(int, sample["indices"])) for key, sample in samples.items()}, settings)


def reusable(path: Path, stamp: str) -> dict | None:
    """The results at ``path`` when they were computed from the same inputs (``stamp``), else None."""
    from common.files import read_json

    if not path.is_file():
        return None
    stored = read_json(path)
    if stored.get("stamp") != stamp:
        return None
    print(f"reusing {path.parent.name}/{path.name}: computed from these checkpoints, samples and settings")
    return stored


def explain_model(run: str, model: nn.Module, sample: dict, n_time_bins: int | None, cam_methods, cache: MapCache,
                  key: str, seed: int = 0, shares=DELETION_SHARES) -> dict:
    """Every method's where-measures and deletion curve on the sample: ``{"classes", "accuracy", "methods": {method:
    {"measures": {measure: [N]}, "curves": [S, N], "seconds", "grid": ...}}}``; maps and curves come from ``cache``
    when they were computed for the same ``key``."""
    import time

    from tqdm.auto import tqdm

    inputs = sample["inputs"]
    with explainable(model, n_time_bins, for_cam=False) as (scorer, _, _):
        classes = decisions(scorer, inputs).tolist()
    mask = object_mask(inputs.numpy(), n_time_bins)
    out = {"classes": classes, "accuracy": float(np.mean(np.asarray(classes) == sample["labels"].numpy())),
           "methods": {}}
    for method in tqdm(methods_for(model, cam_methods), desc=run, leave=False):
        stored = cache.get(run, method, key)
        if stored is None:
            start = time.perf_counter()
            torch.manual_seed(seed)
            maps, on_grid = method_maps(model, inputs, classes, method, n_time_bins, seed)
            curves = deletion_curves(model, inputs, maps, classes, n_time_bins, shares, seed)
            stored = {"maps": maps.astype(np.float32), "curves": curves, "on_grid": on_grid,
                      "seconds": np.asarray(time.perf_counter() - start)}
            cache.put(run, method, key, **stored)
        result = {"maps": stored["maps"], "curves": stored["curves"], "seconds": float(stored["seconds"]),
                  "measures": measure(stored["maps"], mask)}
        if stored.get("on_grid") is not None:
            result["grid"] = peaks_on_grid_border(stored["on_grid"])
        out["methods"][method] = result
    return out


def summarise_explanations(evaluations: dict, samples: dict, profile: str, shares=DELETION_SHARES,
                           absent: dict | None = None) -> dict:
    """The table's content. Per model x method: every where-measure's mean with its 95% t-interval over samples, the
    deletion area, and the deletion score against the random order and against the centre blob (area of the baseline's
    curve minus the method's: above 0, removing events in the map's order takes the decision away sooner), each
    tested paired over samples (Wilcoxon signed-rank), Holm over every model x method x baseline."""
    rows, tests = [], []
    for run, evaluation in evaluations.items():
        methods = evaluation["methods"]
        areas = {m: deletion_area(r["curves"], shares) for m, r in methods.items()}
        for method, result in methods.items():
            row = {"model": run, "kind": model_kind(run), "method": method,
                   "family": "baseline" if method in BASELINES else "captum" if method in CAPTUM_METHODS
                   else "spiking-native" if method == "SAM" else "cam", "seconds": round(result["seconds"], 1)}
            for name in WHERE_SUMMARY:
                values = np.asarray(result["measures"][name], dtype=float)
                row[name] = interval(values[np.isfinite(values)]) if np.isfinite(values).any() else None
            row["deletion_area"] = interval(areas[method])
            if "grid" in result:
                row["grid"] = result["grid"]
            for baseline in BASELINES:
                if method in BASELINES or baseline not in areas:
                    continue
                test = {"model": run, "method": method, "against": baseline,
                        **paired_test(areas[baseline], areas[method])}
                tests.append(test)
                row[f"against_{baseline.replace(' ', '_')}"] = test
            rows.append(row)
    with_holm(tests)
    for test in tests:
        test["beats"] = test["verdict"] == "differs" and test["difference_mean"] > 0
    return {"profile": profile, "deletion_shares": list(shares), "sample": samples,
            "object": f"images: ink, raw pixels > {INK}; event clips: the pixels with an event in each time bin",
            "deletion": "locations (a clip's bin x pixel, an image's pixel) set to zero in the map's order, hottest "
                        "first, until each share of the input's events (ink) is gone; score: the explained class "
                        "still wins outright (DecisionKept); against_<baseline>: area under the baseline's curve minus "
                        "the method's, paired over samples, Holm over every model x method x baseline",
            "models": {r: {"kind": model_kind(r), "accuracy_on_sample": e["accuracy"], "sample": e["sample"]}
                       for r, e in evaluations.items()},
            "not_evaluated": absent or {}, "rows": rows}


def explanations_path(profile: str, output_root) -> Path:
    return Path(output_root) / "results" / f"explanations-{profile}.json"


def run_explanations(profile: str, data_root, mirror, output_root, per_class: int | None = None, models=None,
                     cam_methods=None, seed: int = 0, shares=DELETION_SHARES) -> tuple[dict, dict]:
    """Every model of the profile's faithfulness row with a checkpoint: its sample (raw images, event clips), every
    method's maps, where-measures and deletion curves (cached under ``runs/cache/explanations-<profile>``, so a
    resume reuses them), summarised and written to ``results/explanations-<profile>.json``. Returns the results and
    the evaluations (maps included); or that file as it is and no evaluations when it was computed from the same
    inputs (:func:`inputs_stamp`: a fresh clone's resume reuses the committed table)."""
    import time

    from common.files import write_json

    start = time.perf_counter()
    chosen = profile_settings("faithfulness", profile)
    per_class = per_class or chosen["where_per_class"]
    models = models or chosen["where_models"]
    cam_methods = cam_methods or chosen["methods"]
    cache = MapCache(Path(output_root) / "runs" / "cache" / f"explanations-{profile}")
    opened, loaded, samples, absent = open_saved(models, profile, output_root, data_root, mirror, per_class)
    stamp = inputs_stamp(opened, samples, methods=list(cam_methods), shares=list(shares), seed=seed)
    stored = reusable(explanations_path(profile, output_root), stamp)
    if stored is not None:
        return stored, {}
    evaluations = {}
    for run, (path, model, n_time_bins, sample_key) in opened.items():
        key = cache_key(path, loaded[sample_key]["indices"], seed, shares)
        evaluations[run] = explain_model(run, model, loaded[sample_key], n_time_bins, cam_methods, cache, key, seed,
                                         shares)
        evaluations[run]["sample"] = sample_key
    results = summarise_explanations(evaluations, samples, profile, shares, absent)
    results["seconds"] = {"this_run": round(time.perf_counter() - start, 1),
                          "maps_and_curves_from_scratch": round(sum(m["seconds"] for e in evaluations.values()
                                                                    for m in e["methods"].values()), 1)}
    results["stamp"] = stamp
    path = explanations_path(profile, output_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, results)
    return results, {**evaluations, "_samples": loaded}


def explanations_table(results: dict):
    """One row per model x method: heat on object (beside the object's share), pointing game, peak's distance to the
    edge, heat in the border strip (beside its share), deletion area, and the deletion score against random and
    against the blob, each mean [95% interval] (``*`` where Holm-adjusted p < 0.05)."""
    import pandas as pd

    cell = lambda s, f="{:.2f}": "" if s is None else f"{f.format(s['mean'])} [{f.format(s['low'])}, {f.format(s['high'])}]"
    test = lambda t: "" if t is None else (f"{t['difference_mean']:+.3f} [{t['difference_low']:+.3f}, "
                                           f"{t['difference_high']:+.3f}]" + (" *" if t["verdict"] == "differs" else ""))
    records = []
    for r in results["rows"]:
        records.append({"kind": r["kind"], "model": r["model"], "method": r["method"],
                        "heat on object": cell(r["heat_on_object"]), "object's share": cell(r["object_share"]),
                        "pointing game": cell(r["pointing"]), "peak to edge (px)": cell(r["edge_distance"], "{:.1f}"),
                        "heat in border": cell(r["border_heat"]), "border's share": cell(r["border_share"]),
                        "deletion area": cell(r["deletion_area"], "{:.3f}"),
                        "vs random": test(r.get("against_random")), "vs blob": test(r.get("against_centre_blob"))})
    return pd.DataFrame(records).set_index(["kind", "model", "method"])


def _methods_of(rows: list[dict], n_models: int) -> list[str]:
    """The methods of ``rows``, once each; with several models of one kind, on how many of them."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["method"]] = counts.get(r["method"], 0) + 1
    return [m if n_models == 1 else f"{m} ({k} of {n_models} models)" for m, k in counts.items()]


def _by_kind(rows: list[dict]):
    """Per model kind: its methods' rows, the methods that beat both the random order and the centre blob, and
    those that beat the random order only."""
    for kind in dict.fromkeys(r["kind"] for r in rows):
        mine = [r for r in rows if r["kind"] == kind and r["family"] != "baseline"]
        n_models = len({r["model"] for r in mine})
        both = [r for r in mine if r.get("against_random", {}).get("beats") and r.get("against_centre_blob", {}).get("beats")]
        random_only = [r for r in mine if r.get("against_random", {}).get("beats") and r not in both]
        yield kind, mine, _methods_of(both, n_models), _methods_of(random_only, n_models)


def explanations_answer(results: dict | str | Path) -> str:
    """The README's one sentence on which explanations point at the evidence, per model kind, from the table."""
    if not isinstance(results, dict):
        from common.files import read_json
        results = read_json(results)
    parts = [f"{kind}: {', '.join(both) if both else 'none'}" for kind, _, both, _ in _by_kind(results["rows"])]
    n = sorted({v["n"] for v in results["sample"].values()})
    cam_rows = [r for r in results["rows"] if r["family"] == "cam"]
    cams_beating = {r["method"] for r in cam_rows if r.get("against_random", {}).get("beats")
                    and r.get("against_centre_blob", {}).get("beats")}
    cams = (f" No CAM method ({len({r['method'] for r in cam_rows})} tried, Grad-CAM among them) beats both on any "
            "model." if cam_rows and not cams_beating else "")
    return ("Which explanations point at the evidence (deletion test: the input's events or ink removed in each "
            "map's order until the decision goes; a method counts when it beats both a random order and a centre "
            f"blob, Holm over every model x method x baseline, {'-'.join(map(str, n))} test samples per model)? "
            + "; ".join(parts) + "." + cams)


def explanations_findings(results: dict | str | Path) -> list[str]:
    """Markdown lines for the report's findings, every number from the explanations table: per model kind, which
    methods beat the random order and the centre blob in the deletion test, and where the CAMs put their heat."""
    if not isinstance(results, dict):
        from common.files import read_json
        results = read_json(results)
    rows = results["rows"]
    sizes = ", ".join(f"{v['n']} {v['dataset'].upper()} test samples ({v['per_class']} per class)"
                      for v in results["sample"].values())
    lines = [f"**Which explanations point at the evidence** (deletion test: the input's events, or an image's ink, "
             f"removed in each map's order until the decision goes, against a random order and a centre blob, area "
             f"between the curves, Wilcoxon paired over samples, Holm over every model x method x baseline; {sizes}; "
             f"`results/explanations-{results['profile']}.json`):"]
    for kind, mine, both, random_only in _by_kind(rows):
        best = max(mine, key=lambda r: r["against_centre_blob"]["difference_mean"])
        blob = best["against_centre_blob"]
        models = sorted({r["model"] for r in mine})
        text = (f"beat both the random order and the blob: {', '.join(both)}" if both
                else "no method beats both the random order and the blob")
        if random_only:
            text += f"; the random order only: {', '.join(random_only)}"
        cams = [r for r in mine if r["family"] == "cam" and r["heat_on_object"] is not None]
        where = ""
        if cams:
            heat = np.mean([r["heat_on_object"]["mean"] for r in cams])
            share = np.mean([r["object_share"]["mean"] for r in cams])
            pointing = np.mean([r["pointing"]["mean"] for r in cams])
            border = np.mean([r["border_heat"]["mean"] for r in cams])
            strip = cams[0]["border_share"]["mean"]
            where = (f" Its CAMs put {heat:.0%} of their heat on the object (which covers {share:.0%} of the frame), "
                     f"peak on it in {pointing:.0%} of maps, and put {border:.0%} of their heat in the "
                     f"{BORDER_PX}-pixel border ({strip:.0%} of the frame).")
        lines.append(f"  - {kind} ({', '.join(models)}): {text}. Best against the blob: {best['method']}, "
                     f"{blob['difference_mean']:+.3f} [{blob['difference_low']:+.3f}, {blob['difference_high']:+.3f}], "
                     f"Holm p {blob['holm_p']:.3g}.{where}")
    return lines


def main(argv=None) -> None:
    """``python -m common.study.explanations --profile quick``: the explanations table of the profile's models."""
    import argparse

    import common

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--per-class", type=int, default=None, help="test samples per class (default: the profile's)")
    parser.add_argument("--models", nargs="*", default=None, help="run names (default: the profile's)")
    parser.add_argument("--output-root", default=None, help="where models/ are read and results/ written")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--mirror", default=None)
    args = parser.parse_args(argv)
    data_root, mirror, output_root = common.config.resolve_locations(args.data_root, args.mirror, args.output_root,
                                                                     args.profile)
    results, _ = run_explanations(args.profile, data_root, mirror, output_root, args.per_class, args.models)
    import pandas as pd

    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 40):
        print(explanations_table(results).to_string())
    print("\n".join(explanations_findings(results)))
    print(f"written: {explanations_path(args.profile, output_root)}; {results['seconds']}")


if __name__ == "__main__":
    main()

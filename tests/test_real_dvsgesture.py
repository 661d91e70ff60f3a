"""The mirror's 10 real DVS128 Gesture test clips through every DVS path: both models, evaluation of a
saved model without a training split, Grad-CAM over time and the video writer.

These clips are a test split only: nothing here trains on them (the models are untrained or trained on
synthetic fixtures), so no number here says anything about gestures.
"""
import json

import pytest
import torch

import common
from common.explanations.gradcam import grad_cam_over_time
from common.explanations.video import FPS, HOLD_LAST, clip_videos, read_mp4
from common.runs import runner
from common.runs.specs import resolve

pytestmark = [pytest.mark.mirror, pytest.mark.usefixtures("no_env")]
N_TIME_BINS = 8


@pytest.fixture
def real_clips(mirror, monkeypatch):
    monkeypatch.setenv("SNN_OFFLINE", "1")   # the absent training split must never start a download
    if not (mirror / "DVSGesture" / "ibmGestureTest").is_dir():
        pytest.skip("the mirror holds no DVS Gesture clips")
    return mirror


SPECS = {"scnn": "scnn_dvsgesture", "slstm": "cmp_slstm_dvsgesture"}


def spec_for(model, mirror, tmp_path):
    return resolve(SPECS[model], "smoke", overrides={"n_time_bins": N_TIME_BINS, "batch_size": 4},
                   data_root=str(tmp_path / "data"), mirror=str(mirror), output_root=str(tmp_path / "out"))


@pytest.mark.slow
@pytest.mark.parametrize("model", ["scnn", "slstm"])
def test_saved_model_is_evaluated_explained_and_rendered_on_the_real_clips(model, real_clips, tmp_path):
    spec = spec_for(model, real_clips, tmp_path)
    config, data = spec.config, runner.load_data(spec.config)
    with pytest.raises(common.DatasetNotFoundError, match="no saved model"):   # nothing to evaluate yet
        runner.run(spec, data)

    torch.manual_seed(0)   # a model "trained elsewhere": here an untrained one, saved as fit saves it
    common.save_checkpoint(config.path("models", ".pth"), common.build_model(config.model, **config.model_kwargs),
                           config.model, config.model_kwargs, meta={"config": config.to_dict(), "history": []})
    record = runner.run(spec, data)
    assert record["test"]["n_samples"] == 10 and record["evaluation_only"] and record["train_samples"] is None
    assert len(record["accuracy_by_time_bins"]) == N_TIME_BINS
    written = json.loads(config.path("results", ".json").read_text())
    assert written["evaluation_only"] and written["trained_with"]["model"] == model

    saved, _ = common.load_model(config.path("models", ".pth"))
    clip, label = data.test.frames[3].float(), int(data.test.labels[3])
    per_bin, whole_clip = grad_cam_over_time(saved, clip)
    assert per_bin.shape == (N_TIME_BINS, 32, 32) and whole_clip.shape == (32, 32)
    assert per_bin.min() >= 0 and per_bin.max() <= 1 + 1e-6
    spike_video, gradcam_video = clip_videos(saved, clip, label, per_bin, config, data.test.classes)
    for video in (spike_video, gradcam_video):
        frames = read_mp4(video)
        assert len(frames) == N_TIME_BINS + round(FPS * HOLD_LAST) and frames[0].dtype.name == "uint8"


def test_without_training_split_or_saved_model_the_reason_names_both(real_clips, tmp_path):
    spec = spec_for("scnn", real_clips, tmp_path)
    config, data = spec.config, runner.load_data(spec.config)
    assert runner.run(spec, data, required=False) is None
    with pytest.raises(common.DatasetNotFoundError) as info:
        runner.run(spec, data)
    message = str(info.value)
    assert message.startswith("No training split of 'dvsgesture' and no saved model")
    assert str(config.path("models", ".pth")) in message and "ibmGestureTrain" in message

import pytest
import torch

from common.config import DEFAULT_MIRROR, PROFILES, PROJECT_ROOT, RunConfig, pick_device, repo_relative, seed_everything
from common.runs.specs import profile_settings


def test_device_prefers_cuda_then_mps_then_cpu_and_obeys_the_override(monkeypatch):
    monkeypatch.delenv("SNN_DEVICE", raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")
    monkeypatch.setenv("SNN_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("mps") == torch.device("mps")


def test_committed_paths_are_relative_only_inside_the_repository_or_the_shared_folder():
    assert repo_relative(PROJECT_ROOT / "results" / "x.jsonl") == "results/x.jsonl"
    assert repo_relative(DEFAULT_MIRROR) == "../shared/datasets"
    # a scratch folder beside the clone (pytest's, when the clone sits in /tmp) belongs to one machine
    assert repo_relative(PROJECT_ROOT.parent / "pytest-of-someone" / "run0") is None
    assert repo_relative("/elsewhere/data") is None


def test_seed_everything_repeats_draws():
    seed_everything(3)
    a = torch.rand(4)
    seed_everything(3)
    assert torch.equal(a, torch.rand(4))


def test_run_config_paths_and_env(tmp_path, no_env, monkeypatch):
    monkeypatch.setenv("SNN_DATA_MIRROR", "/somewhere")
    config = RunConfig("cnn_mnist", "mnist", "cnn", profile="smoke", output_root=str(tmp_path))
    assert config.mirror == "/somewhere"
    assert config.tag == "cnn_mnist-smoke"
    assert config.path("models", ".pth") == tmp_path / "models" / "cnn_mnist-smoke.pth"
    assert (tmp_path / "models").is_dir()
    assert config.to_dict()["profile"] == "smoke"


def test_bad_profile_is_named():
    with pytest.raises(ValueError, match="profile must be one of"):
        RunConfig("x", "mnist", "cnn", profile="fast")
    with pytest.raises(ValueError, match="profile must be one of"):
        profile_settings("cnn_mnist", "fast")


def test_every_profile_has_settings():
    for profile in PROFILES:
        assert profile_settings("cnn_mnist", profile)["epochs"] >= 1
    settings = profile_settings("cnn_mnist", "quick")
    settings["epochs"] = 99   # a copy: the table itself is untouched
    assert profile_settings("cnn_mnist", "quick")["epochs"] != 99


def test_resolve_locations_order(no_env, monkeypatch):
    from common.config import PROJECT_ROOT, resolve_locations

    assert resolve_locations() == (str(PROJECT_ROOT / "data"), None, str(PROJECT_ROOT))
    monkeypatch.setenv("SNN_OUTPUT_ROOT", "/env/out")
    monkeypatch.setenv("SNN_DATA_MIRROR", "/env/mirror")
    assert resolve_locations(output_root="/arg") == (str(PROJECT_ROOT / "data"), "/env/mirror", "/arg")
    assert resolve_locations()[2] == "/env/out"


def test_smoke_outputs_never_go_beside_the_committed_reference_files(no_env, monkeypatch):
    from common.config import PROJECT_ROOT, SMOKE_OUTPUT_ROOT, default_output_root, downloads_allowed
    from common.runs.records import table_path
    from common.study.lif_alif import STUDY

    smoke = RunConfig("cnn_mnist", "mnist", "cnn", profile="smoke")
    quick = RunConfig("cnn_mnist", "mnist", "cnn", profile="quick")
    assert smoke.output_root == str(SMOKE_OUTPUT_ROOT) and quick.output_root == str(PROJECT_ROOT)
    assert table_path(STUDY, "smoke").parent == SMOKE_OUTPUT_ROOT / "results"
    assert default_output_root("smoke") != PROJECT_ROOT
    monkeypatch.setenv("SNN_OUTPUT_ROOT", "/elsewhere")
    assert RunConfig("cnn_mnist", "mnist", "cnn", profile="smoke").output_root == "/elsewhere"
    assert downloads_allowed() and not downloads_allowed(False)
    monkeypatch.setenv("SNN_OFFLINE", "1")
    assert not downloads_allowed()


def test_identity_leaves_out_where_a_run_runs_and_reads_configs_written_before_it():
    from common.config import RunConfig, identity_differences

    legacy = {"run_name": "r", "dataset": "nmnist", "model": "scnn", "model_kwargs": {"beta": 0.8}, "profile": "quick",
              "epochs": 30, "batch_size": 32, "lr": 0.01, "weight_decay": 0.0, "seed": 0, "device": "cpu",
              "data_root": "data", "mirror": "../shared/datasets", "output_root": ".",
              "extra": {"epochs": 30, "n_time_bins": 25, "train_limit": 10000, "test_limit": None, "max_shift": 3,
                        "batch_size": 32, "lr": 0.01, "folds": 5, "fold_seed": 0, "n_seeds": 1, "workers": 2, "fold": 2}}
    now = RunConfig.from_dict(legacy)
    assert (now.data.fold, now.data.folds, now.data.n_time_bins) == (2, 5, 25)
    moved = {**now.to_dict(), "device": "cuda", "data_root": "/elsewhere", "output_root": "/out",
             "objective": {"kind": "spike_count_mse"}}           # another machine, and a field the old one lacks
    assert identity_differences(legacy, moved) == {}
    assert identity_differences(legacy, {**moved, "data": {**moved["data"], "fold": 3}}) == {"data.fold": (2, 3)}
    assert identity_differences({**moved, "objective": {"kind": "x"}}, moved) == \
        {"objective.kind": ("x", "spike_count_mse")}             # compared where both record it


def test_precision_is_part_of_a_runs_identity_and_older_records_were_float32():
    import pytest
    from common.config import RunConfig, identity_differences

    base = RunConfig("r", "nmnist", "scnn", {"beta": 0.8}, device="cpu").to_dict()
    before_the_knob = {k: v for k, v in base.items() if k != "precision"}
    assert identity_differences(before_the_knob, base) == {}
    assert identity_differences(before_the_knob, {**base, "precision": "bfloat16"}) == \
        {"precision": ("float32", "bfloat16")}
    with pytest.raises(ValueError, match="precision must be one of"):
        RunConfig("r", "nmnist", "scnn", precision="float16", device="cpu")

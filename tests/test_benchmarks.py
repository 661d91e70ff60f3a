"""The speed benchmark's model table: every entry builds, trains a step and runs inference (tiny batches)."""
import importlib.util
import json

import pytest
import torch

from common.config import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("all_models", PROJECT_ROOT / "benchmarks" / "all_models.py")
all_models = importlib.util.module_from_spec(spec)
spec.loader.exec_module(all_models)


RUNS = all_models.study_runs("smoke")


class Clock:
    """A stand-in for a module's ``time``: perf_counter returns the given readings in turn."""
    def __init__(self, *readings):
        self.readings = iter(readings)

    def perf_counter(self):
        return next(self.readings)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNS))
def test_every_run_of_the_benchmark_trains_and_infers(name, monkeypatch):
    """Each spec's model builds, trains (a warm-up step, then the timed ones, each moving the weights) and infers;
    the rates are the arithmetic their names say, on a clock that reads 10 s then 12.5 s around the timed steps
    (samples/s = batches x batch / 2.5 s) and 4, 1 and 2 s for three inference repeats (the median, 2 s, per sample)."""
    spec = RUNS[name]
    spec.config.batch_size = 2   # tiny, for the test
    steps = []
    real_step = torch.optim.AdamW.step
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, *a, **k: steps.append(1) or real_step(self, *a, **k))
    monkeypatch.setattr(all_models, "time", Clock(10.0, 12.5))
    speed, memory = all_models.training_speed(spec, 3, "cpu")
    assert len(steps) == 1 + 3 and speed == 3 * 2 / 2.5
    inputs = all_models.make_input(spec, 2)
    if spec.config.model == "mlp_spikes":               # it averages the spike trains over time before its first layer
        inputs = inputs.mean(0)
    assert memory >= inputs.numel() * 4 / 2 ** 20       # at least the first layer's float input, saved for backward
    monkeypatch.setattr(all_models, "time", Clock(0.0, 4.0, 10.0, 11.0, 20.0, 22.0))
    assert all_models.inference_ms(spec, 4, "cpu", repeats=3) == 1000 * 2.0 / 4


def test_memory_saved_for_backward_counts_each_storage_once():
    """A Linear layer on a [B, n] input saves its input for backward: B * n float32 values, counted once."""
    from torch import nn
    from common.networks.objectives import CROSS_ENTROPY

    model, inputs = nn.Sequential(nn.Linear(1000, 10)), torch.randn(64, 1000)
    mb = all_models.saved_for_backward_mb(model, CROSS_ENTROPY, inputs, torch.zeros(64, dtype=torch.long))
    assert 64 * 1000 * 4 / 2 ** 20 <= mb < 64 * 1000 * 4 / 2 ** 20 * 1.1   # + the loss's few small tensors


def test_the_benchmark_times_what_the_notebooks_train():
    """It reads the specs: notebook 04 at beta 0.8 and batch 32, as the notebook trains it (it once drifted)."""
    from common.runs.specs import SPECS, resolve

    quick = all_models.study_runs("quick")
    population = quick["scnn_nmnist_population (nb 04)"]
    assert population.config.model_kwargs["beta"] == 0.8 and population.config.batch_size == 32
    assert population.config.to_dict() == resolve("scnn_nmnist_population", "quick").config.to_dict()
    from common.runs.specs import profile_settings
    from common.study.lif_alif import headline_cells
    headline = len(headline_cells(profile_settings("lif_alif", "quick")))
    assert len(quick) == len(SPECS) - 1 + headline                    # every spec; the grid's headline cells
    assert all_models.make_input(population, 3).shape == (25, 3, 2, 34, 34)


peers_spec = importlib.util.spec_from_file_location("peers", PROJECT_ROOT / "benchmarks" / "peers.py")
peers = importlib.util.module_from_spec(peers_spec)
peers_spec.loader.exec_module(peers)


step_costs = peers.step_costs


@pytest.fixture
def own_layout_cache(monkeypatch, tmp_path):
    """The auto layout calibrates into a cache of the test's own, not the user's."""
    from common.networks import layout
    monkeypatch.setattr(layout, "CACHE", tmp_path / "time_chunk.json")


@pytest.mark.parametrize("row", [*peers.ROWS, *peers.BF16_ROWS, *peers.MALLOC_ROWS])
def test_every_row_of_the_peer_benchmark_runs_a_step(row, own_layout_cache):
    result = peers.measure(row, batch=2, time_bins=2)
    assert result["samples_per_s"] > 0 and result["peak_mb"] > 0


def test_a_missing_peer_fails_the_benchmark_and_names_its_install(monkeypatch, capsys):
    """Not a dropped row: the benchmark stops before timing anything, with the Makefile's install command."""
    import sys
    for name in [m for m in sys.modules if m == "spikingjelly" or m.startswith("spikingjelly.")] + ["spikingjelly"]:
        monkeypatch.setitem(sys.modules, name, None)          # import spikingjelly now raises ImportError
    with pytest.raises(peers.PeerMissing, match=r"pip install --no-deps spikingjelly==2\.0\.0"):
        peers.step_fn(peers.PEERS[1])
    monkeypatch.setattr(peers, "report", lambda args: pytest.fail("timed rows with a peer missing"))
    assert peers.main(["--batch", "2"]) == 1
    assert "pip install --no-deps spikingjelly==2.0.0" in capsys.readouterr().err


def test_the_breakdown_groups_profiler_rows_and_adds_up_to_the_step():
    step = step_costs.STEP
    rows = [((step, "model forward", "aten::conv2d", "aten::convolution", "aten::mkldnn_convolution"), 40.0),
            ((step, "model forward", "aten::linear", "aten::addmm"), 2.0),
            ((step, "model forward", "aten::max_pool2d", "aten::max_pool2d_with_indices"), 10.0),
            ((step, "model forward", "_LeakyOverTime", "aten::add"), 3.0),
            ((step, "model forward", "aten::contiguous", "aten::clone"), 4.0),
            ((step, "model forward"), 1.0),                                  # Python between the forward's ops
            ((step, "loss forward", "aten::mse_loss"), 1.0),
            ((step, "loss backward", "autograd::engine::evaluate_function: MseLossBackward0", "MseLossBackward0"), 1.0),
            ((step, "loss backward", "autograd::engine::evaluate_function: _LeakyOverTimeBackward"), 0.5),
            ((step, "model backward", "autograd::engine::evaluate_function: ConvolutionBackward0",
              "ConvolutionBackward0", "aten::convolution_backward"), 80.0),
            ((step, "model backward", "autograd::engine::evaluate_function: MaxPool2DWithIndicesBackward0"), 12.0),
            ((step, "model backward", "autograd::engine::evaluate_function: _LeakyOverTimeBackward",
              "_LeakyOverTimeBackward", "aten::mul"), 6.0),
            ((step, "model backward", "autograd::engine::evaluate_function: CatBackward0"), 2.0),
            ((step, "optimizer", "Optimizer.step#Adam.step", "aten::add_"), 5.0),
            ((step,), 2.5),                                                  # the step's own glue
            (("outside the steps", "aten::add"), 1000.0)]
    groups = step_costs.group_times(rows)
    total = lambda g: groups[g]["total"]
    assert set(groups) == set(step_costs.GROUPS)
    assert total("convolutions and the linear layer") == 122.0 and groups["pooling"]["backward"] == 12.0
    assert total("neurons (membrane recurrence, surrogate)") == 9.0 and total("loss (spike-count MSE)") == 2.5
    assert total("optimizer (Adam, zero_grad)") == 5.0 and total(step_costs.OTHER) == 9.5   # 4 + 1 + 2 + 2.5
    assert sum(total(g) for g in groups) == 170.0                 # every row inside a step, each counted once
    assert sum(g["share"] for g in groups.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="record_function"):
        step_costs.group_times([(("aten::add",), 1.0)])


def test_the_profiled_breakdown_of_a_real_step_adds_up(own_layout_cache):
    parts = peers.breakdown(batch=2, time_bins=2, n_steps=1)
    assert parts["layout"].endswith("bin(s) per call") and set(parts["groups"]) == set(step_costs.GROUPS)
    assert sum(g["total"] for g in parts["groups"].values()) == pytest.approx(parts["step_ms"])
    assert sum(g["share"] for g in parts["groups"].values()) == pytest.approx(1.0)
    for group in ("convolutions and the linear layer", "pooling", "neurons (membrane recurrence, surrogate)"):
        assert parts["groups"][group]["forward"] > 0 and parts["groups"][group]["backward"] > 0
    lines = peers.breakdown_lines(parts, 2, 2, unprofiled_ms=1.0)
    assert lines[-1].startswith("| the whole step |") and lines[-1].endswith("| 100.0% |")


def test_the_kernel_bound_is_the_step_at_its_convolutions_speed():
    """256 MFLOP per sample x 128 samples in 128 ms of convolutions: 256 GFLOP/s, 80% of a 320 GFLOP/s peak,
    1000 samples/s were nothing else to cost."""
    parts = {"groups": {step_costs.OP_GROUPS[0][0]: {"total": 128.0}}}
    line = peers.kernel_bound_line(parts, whole_flops=256e6, peak=320e9, batch=128)
    assert "256 GFLOP/s" in line and "(128.0 ms per step), 80% of" in line and "(1000 training samples/s)" in line


def test_the_step_flops_are_counted_from_the_model():
    """42.7 M dense MACs per sample forward at T = 25 (issue #27): conv1 30*30*12*2*25, conv2 11*11*32*12*25 and
    the linear layer 800*10, per time bin; 2 FLOPs per MAC forward, 2 for the weights' gradients and 2 for the
    inputs', but for conv1's input (the data), whose gradient is never computed."""
    conv1, conv2, linear = 30 * 30 * 12 * 2 * 25, 11 * 11 * 32 * 12 * 25, 800 * 10
    flops = peers.flops_per_sample(time_bins=2)
    assert flops[peers.FORWARD_MACS] == 2 * (conv1 + conv2 + linear)
    assert flops[peers.AUTO] == flops[peers.PEERS[0]] == 2 * (4 * conv1 + 6 * conv2 + 6 * linear)
    assert flops[peers.CONVOLUTIONS_ALONE] == 2 * (4 * conv1 + 6 * conv2)


def test_the_gemm_peak_and_bf16_flags(monkeypatch):
    """The peak is 2 n^3 FLOPs over the fastest of the repeats, each an n x n matrix product: on a clock where
    the three products take 0.5, 0.25 and 1.0 s, 2 x 64^3 / 0.25."""
    shapes = []
    real = torch.matmul
    monkeypatch.setattr(step_costs.torch, "matmul", lambda a, b: shapes.append((a.shape, b.shape)) or real(a, b))
    monkeypatch.setattr(step_costs, "time", Clock(0.0, 0.5, 1.0, 1.25, 2.0, 3.0))
    assert step_costs.gemm_peak(torch.float32, n=64, repeats=3) == 2 * 64 ** 3 / 0.25
    assert shapes == [((64, 64), (64, 64))] * 3
    assert step_costs.has_bf16("AMD EPYC [avx avx512_bf16 avx512f]") and not step_costs.has_bf16("Intel [avx2 fma]")


def test_the_peak_is_the_higher_of_its_two_measurements():
    flops = {peers.FORWARD_MACS: 42.7e6, peers.AUTO: 256e6, peers.CONVOLUTIONS_ALONE: 255e6}
    lines = peers.machine_limit_lines(flops, (265e9, 320e9), bf16_peak=None)
    assert "265 and 320 GFLOP/s" in lines[1] and "peak): 320 GFLOP/s, so at most 1250 training samples/s" in lines[1]
    assert "not measured" in lines[1]


def test_every_row_shows_its_share_of_the_peak_and_its_ratio_to_the_best_peer():
    speeds = {peers.AUTO: 150, "project, 1 bin per call": 50, "project, 5 bins per call": 160,
              "project, all bins per call": 120, peers.PEERS[0]: 100, peers.PEERS[1]: 80, peers.CONVOLUTIONS_ALONE: 200}
    results = {row: [{"samples_per_s": s, "layout": "", "peak_mb": 1.0}] for row, s in speeds.items()}
    flops = {row: 1e6 for row in speeds}
    lines = peers.table_lines(results, flops, peak=1e9)                   # 1000 samples/s would be the peak
    auto = next(line for line in lines if line.startswith(f"| {peers.AUTO} |"))
    assert "| 15% | 1.50 |" in auto
    assert f"best peer ({peers.PEERS[0]}): 1.50x" in lines[-2] and "(project, 5 bins per call): 0.94x" in lines[-1]
    # two runs: the ratios run by run, and how far one row's runs lie apart
    two_runs = {row: runs + [{**runs[0], "samples_per_s": runs[0]["samples_per_s"] * (1.2 if row == peers.AUTO else 1)}]
                for row, runs in results.items()}
    lines = peers.table_lines(two_runs, flops, peak=1e9)
    assert "1.65x (run by run: 1.50, 1.80)" in lines[-2]
    assert "1.03x (run by run: 0.94, 1.12; the project rows' own runs differ by up to 20% in this run)" in lines[-1]
    project_bf16, peer_bf16 = peers.BF16_ROWS
    with_bf16 = {**results, project_bf16: [{"samples_per_s": 300, "layout": "", "peak_mb": 1.0}],
                 peer_bf16: [{"samples_per_s": 200, "layout": "", "peak_mb": 1.0}]}
    lines = peers.table_lines(with_bf16, {**flops, project_bf16: 1e6, peer_bf16: 1e6}, peak=1e9)
    assert "(project, 5 bins per call): 0.94x" in lines[-2]                # float32 ratios stay float32's
    assert "bf16 / float32: 2.00x" in lines[-1] and f"project bf16 / {peer_bf16}: 1.50x" in lines[-1]
    project_malloc, peer_malloc = peers.MALLOC_ROWS
    with_malloc = {**results, project_malloc: [{"samples_per_s": 120, "layout": "", "peak_mb": 1.0}],
                   peer_malloc: [{"samples_per_s": 100, "layout": "", "peak_mb": 1.0}]}
    lines = peers.table_lines(with_malloc, {**flops, project_malloc: 1e6, peer_malloc: 1e6}, peak=1e9)
    assert f"{peers.AUTO}: 1.25x; {peers.PEERS[0]}: 1.00x" in lines[-1]   # kept against defaults, each row's own
    assert peers.rows_here("Intel [avx2 fma]") == [*peers.ROWS, *peers.MALLOC_ROWS]
    assert peers.rows_here("Intel [amx_bf16 avx512f]") == [*peers.ROWS, *peers.BF16_ROWS, *peers.MALLOC_ROWS]


def test_the_runs_are_interleaved_so_a_slow_spell_is_shared_by_the_rows():
    """Run 1 of every row in the table's order, then each later run in another order, so that no row always follows
    the same one; the auto row's first run alone recalibrates, and each row keeps its runs in the order they ran."""
    import argparse
    from common.networks.layout import ENV_TIME_CHUNK
    calls = []
    rows = peers.ROWS
    args = argparse.Namespace(runs=4, batch=4, time_bins=2, recalibrate=True)
    results = peers.run_rows(args, rows, lambda row, batch, time_bins, env: calls.append((row, env)) or
                             {"samples_per_s": len(calls)})
    runs = [[row for row, _ in calls[i:i + len(rows)]] for i in range(0, len(calls), len(rows))]
    assert runs[0] == rows and all(sorted(run) == sorted(rows) for run in runs)
    predecessor = lambda run, row: run[run.index(row) - 1] if run.index(row) else None
    assert all(len({predecessor(run, row) for run in runs}) > 1 for row in rows)
    assert runs == [peers.round_order(rows, r) for r in range(4)]                      # seeded: the same every time
    assert [env for row, env in calls if env] == [{ENV_TIME_CHUNK: "recalibrate"}]
    assert calls[0] == (peers.AUTO, {ENV_TIME_CHUNK: "recalibrate"})
    assert list(results) == rows
    assert [r["samples_per_s"] for r in results[peers.AUTO]] == [1 + r * len(rows) + runs[r].index(peers.AUTO)
                                                                 for r in range(4)]


def test_the_peers_train_the_same_network():
    import torch

    import common
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(peers.snntorch_net()) == count(common.build_model("scnn")) == 12 * 2 * 25 + 12 + 32 * 12 * 25 + 32 + 8010
    assert count(peers.spikingjelly_net()[0]) == count(common.build_model("scnn"))
    x, labels = peers.frames(4)
    assert x.shape == (25, 4, 2, 34, 34) and 0.02 < (x > 0).float().mean() < 0.06 and torch.is_tensor(labels)


def test_the_bf16_fold_check_pairs_every_bf16_run_with_its_float32_twin():
    from benchmarks import bf16_folds
    from common.runs.specs import profile_settings
    from common.study import nmnist_folds
    from tests.test_nmnist_folds import row

    cells = bf16_folds.bf16_cells(nmnist_folds.study_cells(profile_settings("scnn_nmnist", "quick")), "beta 0.8")
    assert len(cells) == 15 and {c.factors["variant"] for c in cells} == {"beta 0.8, bf16 autocast"}
    assert all(c.knobs["precision"] == "bfloat16" and c.run_name.endswith("_bf16") for c in cells)
    assert cells[0].resolve(nmnist_folds.GridContext("quick")).config.precision == "bfloat16"

    right, one_off = [[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], [[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0]]
    float32 = [row("beta 0.8", f, right, seed=s) for f in (0, 1) for s in (0, 1)] + [row("beta 0.5", 0, right)]
    same = [row("beta 0.8, bf16 autocast", f, right, seed=s) for f in (0, 1) for s in (0, 1)]
    result = bf16_folds.compare(float32, same, "beta 0.8")
    assert result["line"]["b - a (points)"] == 0 and result["line"]["runs"] == 4 and result["inside"]
    worse = [row("beta 0.8, bf16 autocast", f, one_off, seed=s) for f in (0, 1) for s in (0, 1)]
    result = bf16_folds.compare(float32, worse, "beta 0.8")
    assert result["line"]["b - a (points)"] == -25 and result["line"]["folds b behind"] == 2
    assert not result["inside"] and "float32 stays the default" in bf16_folds.summary_lines(result, "beta 0.8")[-1]
    with pytest.raises(ValueError, match="no float32 run"):
        bf16_folds.compare([], same, "beta 0.8")


def test_make_bench_records_and_the_generated_page(tmp_path):
    """peers.py's record, a batch size at a time per machine kind, and the page's first line from it: the auto row's
    mean samples/s over plain snntorch's and over the best peer's (here spikingjelly), at batch 128."""
    from benchmarks import readme

    cpu = "AMD EPYC 7B13 64-Core Processor [avx avx2 avx512f fma]"
    assert readme.cpu_kind(cpu) == "AMD EPYC, AVX-512" and readme.cpu_kind("Intel(R) Xeon(R) CPU @ 2.2GHz [avx2]") == "Intel Xeon, AVX2"
    run = lambda *speeds: [{"samples_per_s": s, "layout": "1 bin(s) per call", "peak_mb": 100.0} for s in speeds]
    rows = {readme.AUTO: run(400, 440), readme.PEERS[0]: run(200, 200), readme.PEERS[1]: run(250, 270)}
    path = readme.write_record(cpu, 128, rows, (1e11, 1.2e11), None, folder=tmp_path)
    readme.write_record(cpu, 32, {**rows, readme.AUTO: run(300, 300)}, (1e11, 1e11), None, folder=tmp_path)
    record = json.loads(path.read_text())
    assert path.name == "peers-amd-epyc-avx-512.json" and sorted(record["batches"]) == ["128", "32"]
    page = readme.page(tmp_path)
    assert page.splitlines()[0].startswith("2.10 x plain snntorch, 1.62 x the best peer, on AMD EPYC, AVX-512")
    assert "| project (auto layout) | 400 / 440 | 420 | 1.62 | 1 bin(s) per call | 100 |" in page
    assert readme.page(tmp_path / "none").startswith("No `make bench` record yet")


def test_the_committed_benchmark_page_is_generated_from_its_records():
    from benchmarks import readme

    assert readme.README.read_text() == readme.page()


def test_the_front_door_run_reads_pytests_closing_line():
    door_spec = importlib.util.spec_from_file_location("front_door", PROJECT_ROOT / "benchmarks" / "front_door.py")
    front_door = importlib.util.module_from_spec(door_spec)
    door_spec.loader.exec_module(front_door)
    log = ("tests/test_x.py ....\n========= slowest 10 durations =========\n"
           "=========== 610 passed, 1 xpassed in 540.65s (0:09:00) ===========\nmake test: 543 s\n")
    assert front_door.tests_summary(log) == "610 passed, 1 xpassed in 540.65s (0:09:00)"
    assert front_door.tests_summary("make: *** [test] Error 2") == ""

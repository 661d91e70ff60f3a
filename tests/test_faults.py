"""Faults never change a number (issue 23): concurrent runs, bad lines, out-of-range knobs, event fields as they
are on disk, ordinary machine conditions and orphaned workers each end in a clear error or in the clean result."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from common.data.events import event_frames
from common.data.errors import DatasetCorruptError
from common.files import Busy, UnreadableFile, atomic_write, exclusive, read_json
from common.runs import specs
from common.runs.cells import Cell, GridContext
from common.runs.grid import KEY, run_grid
from common.runs.preflight import PreflightError, preflight
from common.runs.records import ResultsTable, TableWarning, load_results

PROJECT = Path(__file__).resolve().parent.parent
TESTS = PROJECT / "tests"
pytestmark = pytest.mark.usefixtures("no_env")


def python(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"import sys; sys.path[:0] = [{str(PROJECT)!r}, {str(TESTS)!r}]\n"
                             + code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


# ------------------------------------------------------------------------------ one writer per table

GRID_RUN = """
import os, time
from test_grid import toy_grid, GRID
print("ready", flush=True)
while not os.path.exists({go!r}):      # both start the grid at the same moment, imports done
    time.sleep(0.01)
toy_grid(GRID, {table!r}, [0, 1], verbose=False, log={log!r}, sleep=0.05)
"""


@pytest.mark.slow
def test_two_simultaneous_grids_on_one_table_train_and_append_every_cell_once(tmp_path):
    table, log = tmp_path / "results" / "t.jsonl", tmp_path / "calls.log"
    go = tmp_path / "go"
    runs = [python(GRID_RUN.format(table=str(table), log=str(log), go=str(go))) for _ in range(2)]
    assert [run.stdout.readline().strip() for run in runs] == ["ready", "ready"]
    go.touch()
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    rows = ResultsTable(table).rows()
    assert len(rows) == 8 and len({r[KEY] for r in rows}) == 8               # no duplicate row
    assert len(log.read_text().splitlines()) == 8                           # no cell trained twice
    waited = [err for _, err in outputs if "holds the results table" in err]
    assert len(waited) == 1 and "waiting for it to finish" in waited[0]     # the second run said why it waited


APPEND_RUN = """
from common.runs.records import ResultsTable
table = ResultsTable({table!r})
for k in range(20):
    table.append({{"cell_key": f"cell{{k}}", "writer": {writer}}})
"""


@pytest.mark.slow
def test_two_processes_appending_the_same_cells_leave_one_row_per_cell(tmp_path):
    table = tmp_path / "t.jsonl"
    runs = [python(APPEND_RUN.format(table=str(table), writer=w)) for w in (1, 2)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    rows = ResultsTable(table).rows()
    assert sorted(r[KEY] for r in rows) == sorted(f"cell{k}" for k in range(20))
    assert table.read_text().count("\n") == 20


def test_a_second_run_told_not_to_wait_names_the_holder(tmp_path, monkeypatch):
    table = tmp_path / "t.jsonl"
    holder = python(f"from common.files import exclusive\nimport time\nwith exclusive({str(table)!r}):\n"
                    f"    print('held', flush=True); time.sleep(30)")
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("SNN_LOCK_WAIT", "0")
        with pytest.raises(Busy, match=rf"Another run \(pid {holder.pid}, .*\) holds the results table {table}"):
            run_grid([Cell({"neuron": "lif", "seed": 0}, None, 0)], table, GridContext("smoke"),
                     verbose=False, run=lambda cell, context: {})
    finally:
        holder.kill()
        holder.wait()
    with exclusive(table):          # the kernel released the killed holder's lock: nothing left behind
        pass


WRITE_RUN = """
from common.files import atomic_write
for k in range(200):
    atomic_write({target!r}, lambda f: f.write(b"x" * 100_000))
"""


@pytest.mark.slow
def test_two_writers_of_one_file_never_delete_each_others_temporary_file(tmp_path):
    """Two runs framing the same event cache at once: neither may take the other's write for a stale one."""
    target = tmp_path / "cache.pt"
    runs = [python(WRITE_RUN.format(target=str(target))) for _ in range(2)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert target.read_bytes() == b"x" * 100_000 and not list(tmp_path.glob(".*.tmp"))


# ------------------------------------------------------------------------------ bad lines, named and kept out

def test_bad_lines_of_a_grid_table_are_named_set_aside_and_their_cells_run_again(tmp_path):
    table = ResultsTable(tmp_path / "grid-smoke.jsonl")
    lines = [json.dumps({KEY: "a", "x": 1}), '{"cell_key": "b", "x"', json.dumps({"foreign": True}),
             json.dumps({KEY: "a", "x": 2}), json.dumps({KEY: "c", "x": 3})]
    table.path.write_text("\n".join(lines) + "\n")
    with pytest.warns(TableWarning, match=r"grid-smoke.jsonl: 3 line\(s\) left out \(line 2: not JSON.*; line 3: not a "
                                          r"grid record: no 'cell_key'; line 4: a second row of cell a \(line 1 kept\)"):
        assert [(r[KEY], r["x"]) for r in table.rows()] == [("a", 1), ("c", 3)]
    with pytest.warns(TableWarning, match="Moved to .*grid-smoke.jsonl.rejected"):
        table.append({KEY: "b", "x": 4})
    assert [json.loads(line)[KEY] for line in table.path.read_text().splitlines()] == ["a", "c", "b"]
    rejected = table.rejected_path.read_text()
    assert "# grid-smoke.jsonl line 2: not JSON" in rejected and '{"cell_key": "b", "x"' in rejected
    assert rejected.count("\n# ") + 1 == 3                                   # every bad line kept, with its reason
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(table.rows()) == 3                                       # clean now: no warning


def test_a_results_record_or_study_status_that_is_not_json_names_the_file_and_line(tmp_path):
    (tmp_path / "good-smoke.json").write_text(json.dumps({"config": {"profile": "smoke"}, "test": {}}))
    (tmp_path / "cut-smoke.json").write_text('{\n  "run": "cut",\n  "test": {"accuracy": 0.5')
    with pytest.raises(UnreadableFile, match=r"cut-smoke.json line 3 column .* is not valid JSON"):
        load_results(tmp_path)
    status = tmp_path / "study.json"
    status.write_text('{"profile": "smoke",\n "notebooks": [\n  {"notebook": "01"\n')
    with pytest.raises(UnreadableFile, match=r"study.json line 4 column 1 is not valid JSON"):
        read_json(status)


def test_a_damaged_time_chunk_cache_is_rebuilt_with_a_notice(tmp_path, monkeypatch, capsys):
    from common.networks import layout

    monkeypatch.setattr(layout, "CACHE", tmp_path / "time_chunk.json")
    for damage in ('{"cpu|x": {"chunk": "all"', '{"cpu|x": {"chunk": 7}}', "[1, 2]"):
        layout.CACHE.write_text(damage)
        assert layout.read_cache() == {}
        assert f"the time-chunk cache {layout.CACHE} holds" in capsys.readouterr().err
    layout.CACHE.write_text('{"cpu|x": {"chunk": "5", "seconds": {}}}')
    assert layout.read_cache() == {"cpu|x": {"chunk": "5", "seconds": {}}}


# ------------------------------------------------------------------------------ knobs: type and range at resolve

@pytest.mark.parametrize("spec, knob, value, allowed", [
    ("cnn_mnist", "epochs", -1, r"an integer in \[1, 1000\]"),
    ("cnn_mnist", "batch_size", 0, r"an integer in \[1, 8192\]"),
    ("cnn_mnist", "train_limit", -5, r"an integer >= 1, or None \(no limit\)"),
    ("cnn_mnist", "lr", 1e6, r"a number in \(0, 1\]"),
    ("scnn_nmnist_beta0.5", "correct_rate", 5, r"a number in \(0, 1\]"),
    ("scnn_nmnist_beta0.5", "max_shift", -3, "an integer >= 0"),
    ("scnn_nmnist_beta0.5", "beta", 1.5, r"a number in \(0, 1\), or None \(the neuron's default\)"),
    ("scnn_nmnist_beta0.5", "n_time_bins", 2.5, r"an integer in \[1, 1000\]"),
    ("scnn_nmnist_beta0.5", "learn_beta", "maybe", "true or false"),
    ("scnn_dvsgesture_wide", "channels", [32, 0], "a list of one or more integers >= 1"),
    ("scnn_dvsgesture", "target_size", [32], r"a list of 2 integers >= 1, or None \(the sensor's size\)"),
    ("cnn_mnist", "seed", -1, "an integer >= 0"),
    ("lif_alif", "datasets", "mnist", "a list of names"),
])
def test_a_bad_value_of_each_knob_type_fails_at_resolve_naming_knob_value_and_range(spec, knob, value, allowed):
    with pytest.raises(ValueError, match=rf"knob '{knob}' of spec '{spec}' must be {allowed}, got "):
        specs.resolve(spec, "smoke", overrides={knob: value})


def test_strings_from_papermill_or_a_command_line_are_converted_once_by_the_same_rules():
    spec = specs.resolve("scnn_nmnist_beta0.5", "smoke", overrides={"beta": "0.6", "seed": "1", "train_limit": "none",
                                                                       "learn_beta": "true", "epochs": "2"})
    assert spec.config.model_kwargs["beta"] == 0.6 and spec.config.model_kwargs["learn_beta"] is True
    assert spec.config.seed == 1 and spec.config.data.train_limit is None and spec.config.epochs == 2
    same = specs.resolve("scnn_nmnist_beta0.5", "smoke", overrides={"beta": 0.6, "seed": 1, "train_limit": None,
                                                                       "learn_beta": True, "epochs": 2})
    assert spec.config.run_name == same.config.run_name                   # a string names the same run as its value
    assert specs.parse_knob("scnn_dvsgesture", "target_size", "[16, 16]") == [16, 16]
    with pytest.raises(ValueError, match=r"knob 'lr' of spec 'cnn_mnist' must be a number in \(0, 1\], got '1e6'"):
        specs.parse_knob("cnn_mnist", "lr", "1e6")
    with pytest.raises(ValueError, match="has no knob 'betta'"):
        specs.parse_knob("cnn_mnist", "betta", "1")


def test_every_knob_has_a_rule_and_every_profile_default_passes_it():
    for name, spec in specs.SPECS.items():
        for profile in ("smoke", "quick", "full"):
            resolved = specs.resolve(name, profile)
            values = {**specs.profile_settings(spec.settings, profile), **resolved.config.model_kwargs,
                      **resolved.objective, "batch_size": resolved.config.batch_size, "lr": resolved.config.lr,
                      "weight_decay": resolved.config.weight_decay}
            for knob in specs.knobs(spec, profile):
                assert knob in specs.KNOBS, f"knob {knob!r} of {name} has no rule in specs.KNOBS"
                if knob in values:
                    specs.check_knob(spec, knob, values[knob])


# ------------------------------------------------------------------------------ events as they are on disk

def nmnist_copy(mirror, root: Path, per_class: int = 1, classes=range(10)) -> Path:
    for digit in classes:
        for source in sorted((mirror / "NMNIST" / "Train" / str(digit)).glob("*.bin"))[:per_class]:
            target = root / "NMNIST" / "Train" / str(digit) / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return root


def dvs_copy(mirror, root: Path, classes=(0,)) -> Path:
    folder = root / "DVSGesture" / "ibmGestureTest" / "user00_unknown"
    folder.mkdir(parents=True)
    for label in classes:
        shutil.copyfile(mirror / "DVSGesture" / "ibmGestureTest" / "user00_unknown" / f"{label}.npy", folder / f"{label}.npy")
    return root


def nmnist_frames(root, **kwargs):
    return event_frames("nmnist", True, 5, root, download=False, progress=False, cache_dir=root / "cache", **kwargs)


def dvs_frames(root):
    return event_frames("dvsgesture", False, 5, root, download=False, progress=False, cache_dir=root / "cache",
                        target_size=(32, 32))


@pytest.mark.mirror
def test_nmnist_fields_are_checked_on_the_raw_bytes(mirror, tmp_path):
    root = nmnist_copy(mirror, tmp_path / "data", classes=[3])
    victim = next((root / "NMNIST" / "Train" / "3").glob("*.bin"))
    clean = victim.read_bytes()
    events = np.frombuffer(clean, np.uint8).reshape(-1, 5).copy()
    events[10, 0] = 40                                              # x of one event off the 34 x 34 sensor
    victim.write_bytes(events.tobytes())
    with pytest.raises(DatasetCorruptError, match=rf"{victim.name} is not a valid recording: field x: values up to 40 in "
                                                  r"1 events, outside the 34 x 34 sensor"):
        nmnist_frames(root)
    events = np.frombuffer(clean, np.uint8).reshape(-1, 5).copy()
    events[[100, 2000]] = events[[2000, 100]]                       # two events' times swapped: out of order
    victim.write_bytes(events.tobytes())
    with pytest.raises(DatasetCorruptError, match=r"field t: times out of order"):
        nmnist_frames(root)


@pytest.mark.mirror
@pytest.mark.parametrize("change, message", [
    (lambda clip: clip[:, 2].__setitem__(slice(0, 10), 2), r"field p: polarities other than 0/1 \(\[2.0\]\)"),
    (lambda clip: clip[:, 3].__imul__(1000), r"field t: events over .* ms, more than the 60000 ms .*in another unit"),
    (lambda clip: clip[:, 3].__isub__(500), r"field t: .* negative times"),
    (lambda clip: clip[:, 0].__iadd__(0.5), r"field x: values .*not whole pixels"),
])
def test_dvs_fields_are_checked_before_tonic_casts_them(mirror, tmp_path, change, message):
    root = dvs_copy(mirror, tmp_path / "data")
    victim = root / "DVSGesture" / "ibmGestureTest" / "user00_unknown" / "0.npy"
    clip = np.load(victim)
    change(clip)
    np.save(victim, clip)
    with pytest.raises(DatasetCorruptError, match=rf"0.npy is not a valid recording: {message}"):
        dvs_frames(root)


@pytest.mark.mirror
def test_a_symlinked_digit_folder_is_read_and_stray_names_are_refused(mirror, tmp_path):
    root = nmnist_copy(mirror, tmp_path / "data", classes=[0, 1])
    split = root / "NMNIST" / "Train"
    elsewhere = nmnist_copy(mirror, tmp_path / "elsewhere", classes=[7]) / "NMNIST" / "Train" / "7"
    (split / "7").symlink_to(elsewhere, target_is_directory=True)
    (split / "0" / ".DS_Store").write_text("ignored")
    assert sorted(set(nmnist_frames(root).labels.tolist())) == [0, 1, 7]   # class 7 is not dropped
    stray = split / "1" / "notes_bin"
    stray.write_bytes((split / "1").glob("*.bin").__next__().read_bytes())
    with pytest.raises(DatasetCorruptError, match=r"1/notes_bin \(not a recording: <digit 0-9>/<id>\.bin\)"):
        nmnist_frames(root)
    stray.rename(split / "1" / "00099.BIN")
    with pytest.raises(DatasetCorruptError, match=r"1/00099.BIN \(the name is not <digit 0-9>/<id>\.bin: rename it\)"):
        nmnist_frames(root)


@pytest.mark.mirror
def test_an_empty_stray_folder_in_the_dvs_split_gets_a_sentence(mirror, tmp_path):
    root = dvs_copy(mirror, tmp_path / "data")
    (root / "DVSGesture" / "ibmGestureTest" / "scratch").mkdir()
    with pytest.raises(DatasetCorruptError, match=r"scratch/ \(an empty folder that is not a class folder\).*Move each"):
        dvs_frames(root)


# ------------------------------------------------------------------------------ ordinary conditions, early

def without_root_powers():
    """In the child before it executes Python: drop every capability from its bounding set, so that root too
    (CI containers run as root) obeys permission bits; an ordinary user has none to drop."""
    if os.geteuid() == 0:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in range(64):
            libc.prctl(24, capability, 0, 0, 0)     # PR_CAPBSET_DROP


def test_a_read_only_output_root_fails_before_any_work_in_one_sentence():
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        root = base / "outputs"
        root.mkdir(mode=0o555)
        root.chmod(0o555)
        run = python(f"from common.runs import specs\nspecs.setup('cnn_mnist', 'smoke', output_root={str(root)!r}, "
                     f"data_root={str(base / 'data')!r})", preexec_fn=without_root_powers)
        _, err = run.communicate(timeout=60)
        assert run.returncode != 0
        assert (f"PreflightError: The output root {root} is not writable (Permission denied): make it writable, or set "
                f"$SNN_OUTPUT_ROOT to a folder you can write in.") in err
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_missing_gpu_a_data_root_that_is_a_file_and_a_full_disk_are_sentences(tmp_path, monkeypatch):
    import torch

    if not torch.cuda.is_available():
        monkeypatch.setenv("SNN_DEVICE", "cuda")
        with pytest.raises(PreflightError, match=r"The device 'cuda' \(\$SNN_DEVICE\) was asked for, but torch sees 0 "
                                                 r"CUDA GPU\(s\) here: unset \$SNN_DEVICE"):
            preflight(tmp_path)
        monkeypatch.delenv("SNN_DEVICE")
    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    with pytest.raises(PreflightError, match=rf"The data root {a_file} is a file, not a folder: point \$SNN_DATA_ROOT"):
        preflight(tmp_path, data_root=a_file)
    with pytest.raises(PreflightError, match=r"MB free, less than the .* MB a run needs: free some space"):
        preflight(tmp_path, min_free=2**62)


def test_a_write_that_fills_the_disk_says_so(tmp_path):
    """A checkpoint written by torch.save onto a device that is full (Linux's /dev/full answers every write with
    ENOSPC): the errors are the real ones (torch's "unexpected pos", then the file's close flushing onto the full
    device), and the write says which file lacked space and what to do. Nothing is patched: only the file's bytes go
    to the full device, and the disk of tmp_path itself has space, so the free-space reading cannot answer for it."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")

    def torch_onto_a_full_device(handle):
        os.dup2(os.open("/dev/full", os.O_WRONLY), handle.fileno())
        torch.save(torch.zeros(100_000), handle)
    with pytest.raises(OSError, match=rf"No space left to write {tmp_path / 'model.pth'} .*free some space"):
        atomic_write(tmp_path / "model.pth", torch_onto_a_full_device)
    assert list(tmp_path.iterdir()) == []                     # no half-written file left behind


# ------------------------------------------------------------------------------ workers die with their parent

POOL_RUN = """
import os
from test_grid import toy_grid, GRID
print(os.getpid(), flush=True)
toy_grid(GRID, {table!r}, [0], workers=2, verbose=False, sleep=60)
"""


def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc to find the workers")
def test_pool_workers_end_when_the_grid_is_killed(tmp_path):
    parent = python(POOL_RUN.format(table=str(tmp_path / "t.jsonl")))
    workers: set[int] = set()
    deadline = time.time() + 60
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.2)
        workers = {c for c in children(parent.pid)
                   if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")}
    assert len(workers) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    # the watchdog polls each second; on a loaded 2-core machine a worker's thread may wait its turn for many
    # seconds (CI beside a training run measured > 10 s), so give it 60 s: a worker without the watchdog never ends
    deadline = time.time() + 60
    while time.time() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.2)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()
             and Path(f"/proc/{w}/stat").read_text().split()[2] != "Z"]
    for worker in alive:            # this test's own workers, should the watchdog have failed
        os.kill(worker, signal.SIGKILL)
    assert alive == []


# ------------------------------------------------------------------------------ issue 42: notebook parameters, typed

# one value of each notebook parameter as papermill's -p or a command line gives it (a string), what it means, and one
# bad value
PARAMETER_CASES = {
    "profile": ("smoke", "smoke", "fast"),
    "overrides": ('{"beta": 0.9}', {"beta": 0.9}, "beta=0.9"),
    "locations": ('{"output_root": "out"}', {"output_root": "out"}, {"outptu_root": "out"}),
    "reuse_trained": ("false", False, "maybe"),
    "replace_reference": ("false", False, "nein"),
    "seed": ("3", 3, "-1"),
    "n_samples": ("200", 200, "0"),
    "per_class": ("None", None, "0"),
    "methods": ('["GradCAM"]', ["GradCAM"], "GradCAM"),
    "removed": ("[20, 50]", [20, 50], "[0]"),
    "models": ('["cnn_mnist"]', ["cnn_mnist"], "[1]"),
    "head_to_head": ('[["beta 0.5", "beta 0.8"]]', [("beta 0.5", "beta 0.8")], '["beta 0.5"]'),
    "against_conventional": ('[["a", "b"]]', [("a", "b")], "[[1, 2]]"),
}


def test_every_parameter_of_every_notebook_has_a_rule():
    from common.study.notebooks import numbered_notebooks, parameters_of

    declared = {name for notebook in numbered_notebooks() for name in parameters_of(notebook)}
    assert declared <= set(specs.PARAMETERS), declared - set(specs.PARAMETERS)
    assert set(PARAMETER_CASES) == set(specs.PARAMETERS)


@pytest.mark.parametrize("name", sorted(PARAMETER_CASES))
def test_each_parameter_is_converted_once_or_refused_naming_it(name):
    text, value, bad = PARAMETER_CASES[name]
    assert specs.check_parameters(**{name: text}) == {name: value}
    assert specs.check_parameters(**{name: value}) == {name: value}     # a hand edit of the right type passes as is
    import re
    with pytest.raises(specs.KnobError, match=f"notebook parameter {name!r} must be .*, got {re.escape(repr(bad))}"):
        specs.check_parameters(**{name: bad})


def papermill_namespace(notebook: Path, **cli_parameters) -> dict:
    """The variables a notebook's kernel holds after its parameters cell and papermill's injected cell, as
    ``papermill IN OUT -p name value`` makes them (papermill's own -p conversion and injection)."""
    from papermill.cli import _resolve_type
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    parameters = {name: _resolve_type(value) for name, value in cli_parameters.items()}
    nb = parameterize_notebook(load_notebook_node(str(notebook)), parameters)
    namespace: dict = {}
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            exec(cell.source, namespace)
    return {k: v for k, v in namespace.items() if k in specs.PARAMETERS}


def test_papermill_p_false_reaches_the_notebook_as_a_string_and_the_checker_makes_it_false():
    notebook = PROJECT / "notebooks" / "02_scnn_nmnist_beta05.ipynb"
    seen = papermill_namespace(notebook, profile="smoke", reuse_trained="False", replace_reference="false")
    assert seen["replace_reference"] == "false" and seen["reuse_trained"] is False     # what papermill passes
    assert specs.check_parameters(**seen)["replace_reference"] is False                 # what the run uses
    seen = papermill_namespace(notebook, overrides='{"beta": 0.9}')
    assert specs.resolve("scnn_nmnist_beta0.5", "smoke", overrides=seen["overrides"]).config.model_kwargs["beta"] == 0.9


def test_the_command_line_types_every_parameter_before_a_kernel_starts(tmp_path):
    from common.study.notebooks import run_notebook

    with pytest.raises(specs.KnobError, match="notebook parameter 'replace_reference' must be true or false"):
        run_notebook(PROJECT / "notebooks" / "02_scnn_nmnist_beta05.ipynb", "smoke", tmp_path,
                     {"replace_reference": "perhaps"})
    assert not (tmp_path / "02_scnn_nmnist_beta05.ipynb").exists()


def test_the_run_and_the_grid_type_their_flags(tmp_path):
    from common.runs import runner
    from common.runs.grid import run_seeds

    spec = specs.resolve("cnn_mnist", "smoke", output_root=str(tmp_path))
    with pytest.raises(specs.KnobError, match="notebook parameter 'reuse_trained' must be true or false, got 'ja'"):
        runner.run(spec, None, reuse_trained="ja")
    with pytest.raises(specs.KnobError, match="notebook parameter 'locations' must be a dict with keys among"):
        specs.setup("cnn_mnist", "smoke", outptu_root=str(tmp_path))
    with pytest.raises(specs.KnobError, match="notebook parameter 'reuse_trained'"):
        run_seeds("t", ["scnn_dvssign"], [0], "smoke", reuse_trained="2", output_root=str(tmp_path))


# ------------------------------------------------------------------------------ issue 42: a reference is kept

def small_mnist_run(root: Path, **options):
    """The MNIST CNN on 64 + 64 real images into ``root`` (seconds): a reference to protect."""
    from common.runs import runner

    spec = specs.resolve("cnn_mnist", "smoke", overrides={"train_limit": 64, "test_limit": 64},
                         output_root=str(root))
    return spec, runner.run(spec, runner.load_data(spec.config), **options)


@pytest.mark.mirror
def test_papermill_replace_reference_false_keeps_the_reference_byte_identical(mirror, tmp_path, monkeypatch):
    """The issue's first data loss: ``-p reuse_trained False -p replace_reference false``."""
    monkeypatch.setenv("SNN_DATA_MIRROR", str(mirror))
    spec, _ = small_mnist_run(tmp_path)
    reference = spec.config.path("models", ".pth")
    record = spec.config.path("results", ".json")
    before = reference.read_bytes(), record.read_bytes()
    seen = papermill_namespace(PROJECT / "notebooks" / "01_cnn_mnist_gradcam.ipynb", reuse_trained="False",
                               replace_reference="false")
    _, retrain = small_mnist_run(tmp_path, reuse_trained=seen["reuse_trained"],
                                 replace_reference=seen["replace_reference"])
    assert (reference.read_bytes(), record.read_bytes()) == before
    assert retrain["run"].endswith("_retrain-smoke") and Path(tmp_path / retrain["checkpoint"]).is_file()
    _, again = small_mnist_run(tmp_path, reuse_trained="false")     # "false" retrains (beside), never resumes
    assert again["run"].endswith("_retrain-smoke") and reference.read_bytes() == before[0]


def test_a_checkpoint_of_another_config_at_a_references_name_is_not_trained_over(tmp_path):
    """The issue's second data loss: ``cp models/scnn_nmnist_beta0.8-quick.pth
    runs/smoke/outputs/models/scnn_nmnist_beta0.5-smoke.pth``, then the study."""
    from types import SimpleNamespace

    from common.runs import runner

    spec = specs.resolve("scnn_nmnist_beta0.5", "smoke", output_root=str(tmp_path))
    target = spec.config.path("models", ".pth")
    shutil.copy(PROJECT / "models" / "scnn_nmnist_beta0.8-quick.pth", target)
    before = target.read_bytes()
    with pytest.raises(runner.OtherRunError, match=r"scnn_nmnist_beta0.5-smoke.pth is a checkpoint of another config "
                                                   r"than run 'scnn_nmnist_beta0.5' \(.*model_kwargs.beta: checkpoint "
                                                   r"0.8, run 0.5.*\); it is not trained over"):
        runner.run(spec, SimpleNamespace(train_loader=object()))
    assert target.read_bytes() == before
    # asked to replace it: the file is set aside whole (renamed, kept, reported), never trained over
    aside = runner.claim_name(spec, replace_reference=True).set_aside
    assert not target.exists() and aside.read_bytes() == before and aside.name.startswith(target.name + ".set-aside-")


def test_a_changed_default_is_a_new_name_for_an_experiment_and_a_stop_for_a_reference(tmp_path, monkeypatch):
    from dataclasses import replace

    from common.runs import runner

    experiment = specs.resolve("scnn_nmnist_beta0.5", "smoke", overrides={"epochs": 2}, output_root=str(tmp_path))
    assert experiment.config.run_name.startswith("scnn_nmnist_beta0.5_with_epochs2_")
    beta = specs.resolve("scnn_nmnist_beta0.5", "smoke", overrides={"beta": 0.9}).config.run_name
    assert "_with_beta0.9_" in beta                   # the name says the beta it runs with
    reference = specs.resolve("scnn_nmnist_beta0.5", "smoke", output_root=str(tmp_path))
    from common.runs.checkpoint import save_checkpoint
    from common.networks.registry import build_model
    from common.config import portable_config
    save_checkpoint(reference.config.path("models", ".pth"), build_model("scnn", **reference.config.model_kwargs),
                    "scnn", reference.config.model_kwargs, meta={"config": portable_config(reference.config.to_dict())})
    edited = replace(specs.SPECS["scnn_nmnist_beta0.5"], lr=None,
                     model_kwargs={"beta": 0.6, "population_size": 1})     # a default edited in the table
    monkeypatch.setitem(specs.SPECS, "scnn_nmnist_beta0.5", edited)
    assert specs.resolve("scnn_nmnist_beta0.5", "smoke", overrides={"epochs": 2}).config.run_name \
        != experiment.config.run_name
    changed = specs.resolve("scnn_nmnist_beta0.5", "smoke", output_root=str(tmp_path))
    with pytest.raises(runner.OtherRunError, match=r"model_kwargs.beta: checkpoint 0.5, run 0.6"):
        runner.claim_name(changed)


# ------------------------------------------------------------------------------ issue 42: knobs

@pytest.mark.parametrize("spec, knob, value, allowed", [
    ("lif_alif", "neuron", "bogus", "one of 'lif', 'alif'"),
    ("lif_alif", "readout", "median", "one of 'mean', 'max', 'last'"),
    ("cnn_nmnist_summed", "input_form", "sumed", "one of 'summed', 'time_bins_as_channels'"),
    ("scnn_nmnist_beta0.5", "workers", 1000, r"an integer in \[1, 256\]"),
    ("scnn_nmnist_beta0.5", "epochs", 10**9, r"an integer in \[1, 1000\]"),
    ("scnn_nmnist_beta0.5", "folds", 1000, r"an integer in \[2, 100\], or None \(the official split\)"),
    ("scnn_nmnist_beta0.5", "batch_size", 10**6, r"an integer in \[1, 8192\]"),
    ("scnn_nmnist_beta0.5", "n_time_bins", 100000, r"an integer in \[1, 1000\]"),
])
def test_choice_knobs_are_enums_and_counts_have_upper_bounds(spec, knob, value, allowed):
    with pytest.raises(specs.KnobError, match=f"knob {knob!r} of spec {spec!r} must be {allowed}, got {value!r}"):
        specs.resolve(spec, "smoke", overrides={knob: value})


def test_set_is_checked_against_every_spec_the_notebook_runs(capsys):
    from common.study import notebooks as study

    assert "slstm_dvssign" in study.notebook_specs(PROJECT / "notebooks" / "06_slstm_vs_scnn_dvsgesture.ipynb")
    assert study.main(["--profile", "smoke", "--only", "03", "--set", "input_form=summed"]) == 2
    err = capsys.readouterr().err
    assert "--set for 03_scnn_nmnist_beta08.ipynb, which runs spec 'scnn_nmnist_beta0.8'" in err
    assert "has no knob 'input_form'" in err and "Traceback" not in err
    assert study.main(["--profile", "smoke", "--only", "07", "--set", "epochs=2"]) == 2
    assert "take no knobs" in capsys.readouterr().err


# ------------------------------------------------------------------------------ issue 42: the report refuses

@pytest.fixture
def report_inputs(tmp_path):
    """A README with the generated sections' markers, and a copy of the committed quick records and tables."""
    from common.study import report

    results = tmp_path / "results"
    shutil.copytree(PROJECT / "results", results, ignore=shutil.ignore_patterns("figures"))
    readme = tmp_path / "README.md"
    readme.write_text(f"# t\n{report.START}\nold\n{report.END}\n")
    return readme, results


def test_a_record_without_its_test_key_stops_the_report_naming_the_file(report_inputs):
    from common.study import report

    readme, results = report_inputs
    record = json.loads((results / "cnn_mnist-quick.json").read_text())
    del record["test"]
    (results / "cnn_mnist-quick.json").write_text(json.dumps(record))
    before = readme.read_bytes()
    with pytest.raises(report.ReportRefused, match=r"cnn_mnist-quick.json lacks test, test.accuracy|"
                                                   r"cnn_mnist-quick.json lacks test"):
        report.update_readme(readme, results)
    assert readme.read_bytes() == before


def test_a_cut_line_of_a_grid_table_stops_the_report_naming_the_table_and_line(report_inputs):
    from common.study import report

    readme, results = report_inputs
    table = results / "lif_alif-quick.jsonl"
    lines = table.read_text().splitlines(keepends=True)
    lines[7] = lines[7][: len(lines[7]) // 2] + "\n"
    table.write_text("".join(lines))
    before = readme.read_bytes()
    with pytest.raises(report.ReportRefused, match=r"lif_alif-quick.jsonl has 1 line\(s\) that cannot be read \(line 8\)"):
        report.update_readme(readme, results)
    assert readme.read_bytes() == before
    table.with_name(table.name + ".rejected").write_text("# set aside earlier\n")
    table.write_text("".join(lines[:7] + lines[8:]))
    with pytest.raises(report.ReportRefused, match=r"lif_alif-quick.jsonl.rejected holds lines set aside"):
        report.update_readme(readme, results)


def test_the_report_prints_which_findings_changed():
    from common.study.report import changed_findings

    before = "- MLP - LIF on mnist: differs (p 0.01)\n- ALIF ahead on fashion-mnist\n"
    after = "- MLP - LIF on mnist: no difference detected (p 0.20)\n- ALIF ahead on fashion-mnist\n"
    assert changed_findings(before, after) == ["-- MLP - LIF on mnist: differs (p 0.01)",
                                               "+- MLP - LIF on mnist: no difference detected (p 0.20)"]
    assert changed_findings(before, before) == []


def test_a_smoke_report_never_touches_the_committed_readme(tmp_path, monkeypatch, capsys):
    from common.study import report

    monkeypatch.setattr(report, "SMOKE_OUTPUT_ROOT", tmp_path)
    before = (PROJECT / "README.md").read_bytes()
    assert report.main(["--profile", "smoke"]) == 0
    assert (PROJECT / "README.md").read_bytes() == before
    assert (tmp_path / "README.md").is_file() and f"{tmp_path / 'README.md'}'s summary" in capsys.readouterr().out


# ------------------------------------------------------------------------------ issue 42: one sentence, early

def study_cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "common.study", *args], capture_output=True, text=True, timeout=120,
                          cwd=PROJECT, env={**os.environ, "PYTHONPATH": str(PROJECT)}, **kwargs)


def test_a_read_only_root_under_the_study_command_is_one_sentence_before_the_lock(tmp_path):
    base = Path(tempfile.mkdtemp())
    try:
        root = base / "outputs"
        root.mkdir(mode=0o555)
        root.chmod(0o555)
        done = study_cli("--profile", "smoke", "--only", "01", "--no-report", "--output-root", str(root),
                         "--out", str(tmp_path / "executed"), preexec_fn=without_root_powers)
        assert done.returncode == 2, done.stderr
        assert f"error: The output root {root} is not writable" in done.stderr and "Traceback" not in done.stderr
        assert not (root / ".snn-study.lock").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_full_disk_a_missing_device_a_held_lock_and_a_corrupt_status_are_one_sentence(tmp_path, monkeypatch, capsys):
    import collections

    import torch

    from common.study import notebooks as study

    args = ["--profile", "smoke", "--only", "01", "--no-report", "--output-root", str(tmp_path / "out"),
            "--out", str(tmp_path / "executed")]
    usage = collections.namedtuple("usage", "total used free")
    with monkeypatch.context() as patch:
        patch.setattr("common.runs.preflight.shutil.disk_usage", lambda path: usage(1, 1, 0))
        assert study.main(args) == 2
    assert "MB a run needs: free some space" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with monkeypatch.context() as patch:
            patch.setenv("SNN_DEVICE", "cuda")
            assert study.main(args) == 2
        assert "The device 'cuda' ($SNN_DEVICE) was asked for" in capsys.readouterr().err
    holder = python(f"from common.files import hold_root\nimport time\nwith hold_root({str(tmp_path / 'out')!r}):\n"
                    f"    print('held', flush=True)\n    time.sleep(60)")
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("SNN_LOCK_WAIT", "0")
        assert study.main(args) == 2
        err = capsys.readouterr().err
        assert f"holds the output root {tmp_path / 'out'}" in err and "Traceback" not in err
    finally:
        holder.kill()
        holder.wait()
    (tmp_path / "executed").mkdir()
    (tmp_path / "executed" / "study.json").write_text('{"profile": "smoke", "notebooks": [')
    assert study.main(args) == 2
    assert f"{tmp_path / 'executed' / 'study.json'} line 1 column" in capsys.readouterr().err
    with pytest.raises(UnreadableFile):                  # --debug keeps the traceback
        study.main([*args, "--debug"])


def test_a_device_torch_does_not_know_in_the_grid_is_one_sentence(tmp_path, monkeypatch, capsys):
    from common.runs.preflight import command_line
    from common.study import lif_alif

    monkeypatch.setenv("SNN_DEVICE", "gpu")
    assert command_line(lif_alif.main, ["--profile", "smoke", "--output-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "The device 'gpu' ($SNN_DEVICE) is not one torch knows: use cpu, cuda, cuda:<n> or mps." in err


@pytest.mark.mirror
def test_an_mnist_mirror_with_only_the_test_files_is_missing_data_not_corrupt(mirror, tmp_path):
    from common.data.errors import DatasetNotFoundError
    from common.data.images import load_image_dataset

    (tmp_path / "mirror" / "MNIST" / "raw").mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(mirror / "MNIST" / "raw" / name, tmp_path / "mirror" / "MNIST" / "raw" / name)
    assert load_image_dataset("mnist", False, tmp_path / "data", tmp_path / "mirror", limit=10).labels.numel() == 10
    with pytest.raises(DatasetNotFoundError) as missing:
        load_image_dataset("mnist", True, tmp_path / "data", tmp_path / "mirror", limit=10)
    assert "corrupt" not in str(missing.value)

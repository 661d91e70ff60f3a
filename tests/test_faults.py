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
    ("cnn_mnist", "epochs", -1, "an integer >= 1"),
    ("cnn_mnist", "batch_size", 0, "an integer >= 1"),
    ("cnn_mnist", "train_limit", -5, r"an integer >= 1, or None \(no limit\)"),
    ("cnn_mnist", "lr", 1e6, r"a number in \(0, 1\]"),
    ("scnn_nmnist_beta0.5", "correct_rate", 5, r"a number in \(0, 1\]"),
    ("scnn_nmnist_beta0.5", "max_shift", -3, "an integer >= 0"),
    ("scnn_nmnist_beta0.5", "beta", 1.5, r"a number in \(0, 1\), or None \(the neuron's default\)"),
    ("scnn_nmnist_beta0.5", "n_time_bins", 2.5, "an integer >= 1"),
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
    with pytest.raises(DatasetCorruptError, match=r"1/notes_bin \(not a .bin recording\)"):
        nmnist_frames(root)
    stray.rename(split / "1" / "00099.BIN")
    with pytest.raises(DatasetCorruptError, match=r"1/00099.BIN \(extension .BIN: rename it to .bin\)"):
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

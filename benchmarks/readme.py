"""benchmarks/README.md, generated from the records of the last `make bench` per machine kind.

    python benchmarks/readme.py      # rewrite benchmarks/README.md from benchmarks/results/peers-*.json

`benchmarks/peers.py` writes one record per machine kind (:func:`write_record`), a batch size at a time, and calls
this; the page's first line is the headline of the most recent record: the project's training speed against plain
snntorch and against the best peer, at batch 128, on that CPU.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
AUTO = "project (auto layout)"
SNNTORCH = "snntorch Leaky stepped over frames in memory"
PEERS = [SNNTORCH, "spikingjelly 2.0 multi-step (torch backend)"]
HEADLINE_BATCH = "128"


def cpu_kind(cpu: str) -> str:
    """A machine kind from common.machine.cpu_description: the model's maker and family, and whether it has
    AVX-512 ("AMD EPYC [avx avx2 avx512f ...]" -> "AMD EPYC, AVX-512")."""
    name, _, flags = cpu.partition(" [")
    flags = flags.rstrip("]")
    words = re.sub(r"\(R\)|\(TM\)|CPU|Processor|@.*|\d+-Core", " ", name).split()
    family = " ".join(w for w in words[:3] if not re.search(r"\d", w)) or "unknown CPU"
    vector = "AVX-512" if "avx512f" in flags.split() else "AVX2" if "avx2" in flags.split() else "no AVX2"
    return f"{family}, {vector}"


def slug(kind: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")


def mean(runs: list[dict]) -> float:
    return sum(r["samples_per_s"] for r in runs) / len(runs)


def write_record(cpu: str, batch: int, rows: dict[str, list[dict]], gemm_peaks: tuple[float, float],
                 bf16_peak: float | None, extra: dict | None = None, folder: Path = RESULTS) -> Path:
    """Add one batch size's measurements to the record of this machine kind (``results/peers-<kind>.json``), kept
    beside the other batch sizes of the same kind; returns its path."""
    kind = cpu_kind(cpu)
    path = folder / f"peers-{slug(kind)}.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    if record.get("cpu") != cpu:
        record = {}                  # another CPU of the same kind: its batches are not this one's
    record.update({"cpu": cpu, "kind": kind, **(extra or {})})
    record.setdefault("batches", {})[str(batch)] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="minutes"), "rows": rows,
        "gemm_peaks_flops": list(gemm_peaks), "bf16_peak_flops": bf16_peak}
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def ratios(batch: dict) -> dict:
    """The project's auto row against plain snntorch and against the best peer (means over runs)."""
    rows = batch["rows"]
    best = max((p for p in PEERS if p in rows), key=lambda p: mean(rows[p]))
    return {"snntorch": mean(rows[AUTO]) / mean(rows[SNNTORCH]), "best": mean(rows[AUTO]) / mean(rows[best]),
            "best_peer": best}


def headline(records: list[dict]) -> str:
    """The page's first line, from the most recent record measured at batch 128."""
    latest = max((r for r in records if HEADLINE_BATCH in r["batches"]),
                 key=lambda r: r["batches"][HEADLINE_BATCH]["date"], default=None)
    if latest is None:
        return "No `make bench` record yet: run `make bench` on an idle machine."
    x = ratios(latest["batches"][HEADLINE_BATCH])
    return (f"{x['snntorch']:.2f} x plain snntorch, {x['best']:.2f} x the best peer, on {latest['kind']} "
            f"(training samples/s at batch {HEADLINE_BATCH}, {latest['batches'][HEADLINE_BATCH]['date'][:10]})")


def kind_section(record: dict) -> list[str]:
    out = [f"## {record['kind']}", "", f"`{record['cpu']}`" + (f"; {record['note']}" if record.get("note") else ""), ""]
    for batch, data in sorted(record["batches"].items(), key=lambda item: -int(item[0])):
        x = ratios(data)
        peak = max(data["gemm_peaks_flops"])
        out += [f"Batch {batch}, measured {data['date']}: the project {x['snntorch']:.2f} x plain snntorch, "
                f"{x['best']:.2f} x the best peer ({x['best_peer']}); float32 GEMM peak {peak / 1e9:.0f} GFLOP/s.", "",
                "| row | training samples/s (each run) | mean | x best peer | layout | peak MB |",
                "|---|---|---|---|---|---|"]
        best = mean(data["rows"][x["best_peer"]])
        for row, runs in data["rows"].items():
            each = " / ".join(f"{r['samples_per_s']:.0f}" for r in runs)
            out.append(f"| {row} | {each} | {mean(runs):.0f} "
                       f"| {mean(runs) / best:.2f} | {runs[0].get('layout', '')} "
                       f"| {max(r.get('peak_mb', 0) for r in runs):.0f} |")
        out.append("")
    return out


HOW = """How fast the project trains the study's spiking CNN (notebook 02's, T = 25, on frames already in memory) against
what a user would pick instead: snntorch's `Leaky` layers stepped over the frames, and spikingjelly 2.0's
multi-step network. Generated by `python benchmarks/readme.py` from the records `make bench` writes
(`benchmarks/results/peers-<machine kind>.json`, one per kind of CPU, the latest run of each batch size); do not
edit. The full printed output of a run (the machine's float32 peak, where a step's time goes, the kernels' bound)
is what `make bench` prints; earlier dated notes are in the git history of `benchmarks/LATEST.md`.

## How to run

```bash
make bench                              # benchmarks/peers.py at batch 128 and 32, 3 runs per row; minutes
make bench BENCH_FLAGS=--recalibrate    # the convolution layout measured again instead of read from its cache
python benchmarks/all_models.py --with-source   # every spec of the study, and the source study's own loop
python benchmarks/event_driven.py       # the trained spiking CNN event by event against its dense pass
python benchmarks/bf16_folds.py         # bf16 autocast against float32 on the fold study's runs
```

Run it on an idle machine: each row's runs are interleaved with the other rows' (so a slow spell is shared), and the
rows' own spread between runs says how small a difference a run can resolve. The project's convolutions run a
chunk of time bins per call (1, 5 or all), chosen by measurement on the first step of a shape and cached per
machine in `~/.cache/snn-study/time_chunk.json` (`SNN_TIME_CHUNK=1|5|all` forces one). bf16 autocast is a
measured option (`--set precision=bfloat16`), not the default.
"""


def page(folder: Path = RESULTS) -> str:
    records = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("peers-*.json"))]
    body = [headline(records), "", "# Benchmarks", "", HOW]
    for record in records:
        body += kind_section(record)
    return "\n".join(body).rstrip() + "\n"


def write(folder: Path = RESULTS, readme: Path = README) -> bool:
    text = page(folder)
    changed = not readme.exists() or readme.read_text() != text
    if changed:
        readme.write_text(text)
    return changed


if __name__ == "__main__":
    print("benchmarks/README.md", "updated" if write() else "already up to date")
    sys.exit(0)

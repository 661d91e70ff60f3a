"""What tonic's Denoise removes from DVS_Sign at a few filter times, and the spacing of its time stamps: the
measurement behind the filter time in DVS_Sign's description (common/data/datasets.py).

    python benchmarks/dvssign_denoise.py [--clips 60] [--seed 0]

DVS_Sign's events sit on a coarse time grid (multiples of 1/60 and 1/90 s), so a filter shorter than the gap between
two stamps drops events only because their neighbours fell on the previous stamp.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.config import resolve_locations  # noqa: E402
from common.data.datasets import describe  # noqa: E402
from common.data.readers import open_event_dataset  # noqa: E402

FILTER_TIMES_MS = (5, 10, 17, 34, 50, 100)


def main(argv=None) -> int:
    import tonic.transforms

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data_root, mirror, _ = resolve_locations()
    ds = open_event_dataset("dvssign", True, data_root, mirror, download=False)
    chosen = np.random.default_rng(args.seed).choice(len(ds), args.clips, replace=False)
    clips = [ds[int(i)][0] for i in chosen]
    gaps = np.concatenate([np.diff(np.unique(c["t"])) for c in clips]) / 1000
    print(f"{args.clips} training clips (seed {args.seed}); gaps between distinct time stamps: median "
          f"{np.median(gaps):.1f} ms, 95th percentile {np.percentile(gaps, 95):.1f} ms")
    for ms in FILTER_TIMES_MS:
        kept = [len(tonic.transforms.Denoise(filter_time=ms * 1000)(c)) / len(c) for c in clips]
        print(f"filter {ms:>3} ms: keeps {100 * np.mean(kept):.1f}% of the events (the fewest in a clip "
              f"{100 * np.min(kept):.1f}%)")
    print(f"the description's choice: {describe('dvssign').denoise_filter_time / 1000:g} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

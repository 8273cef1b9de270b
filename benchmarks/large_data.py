"""Memory against data size: an image folder searched in memory and streamed from disk.

A synthetic image folder (two classes of 64x64 RGB pictures, a bright disc or square on a noisy
gradient, saved as PNG) at 1x, 4x and 16x a base size. Each size gets one short search
(``automl search``: 1 worker process, 2 trials of 1 epoch, a small CNN) with
``data.memory_budget`` set between the 1x and the 4x folder's decoded size, so that 1x is held
in memory and 4x and 16x stream from disk. Measured, by polling ``/proc`` every 0.1 s:

* peak resident memory (RSS) of the coordinator (the ``automl search`` process) and of its
  worker, and of RSS the anonymous part (``RssAnon``: what the process itself holds, as
  opposed to file pages it maps);
* the time from the command's start to its first trial's start (listing, decoding, snapshot);
* the input pipeline's images per second (automl's ``train_dataset``, 3 epochs of batches of 64,
  the first dropped, iterated without a model), in memory and streamed, at the sizes where both
  fit (the in-memory path is forced with a budget above the folder): the median of
  ``--repeats`` interleaved runs of each, this machine being noisy;
* the same while a small CNN trains on it (``model.fit``, images per second of epoch 2, the
  median of 6 runs of each, alternating which goes first), which is what a search feels;
* and, for comparison, the largest folder searched in memory (a budget above it).

Goals (issue 29): worker RSS flat (within 20%) from 4x to 16x; the streamed pipeline at least
0.9x the in-memory throughput where the data fits in memory. Tables are not streamed yet: this
benchmark covers image folders only.

    python benchmarks/large_data.py                # base 1,500 images: about 10 minutes
    python benchmarks/large_data.py --base 300     # a quick look

Writes ``reports/benchmarks/large_data.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "reports" / "benchmarks"
SIDE = 64
FACTORS = (1, 4, 16)


def make_folder(root: Path, count: int, seed: int = 0) -> Path:
    """``count`` PNG images of two classes: a disc or a square, bright, on a noisy gradient."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 120, SIDE)[None, :, None]
    for index in range(count):
        label = ("disc", "square")[index % 2]
        (root / label).mkdir(parents=True, exist_ok=True)
        base = ramp + rng.normal(0, 12, (SIDE, SIDE, 3)) + rng.uniform(0, 60, 3)
        image = Image.fromarray(np.clip(base, 0, 255).astype("uint8"))
        draw = ImageDraw.Draw(image)
        x, y = rng.integers(8, SIDE - 24, 2)
        size = int(rng.integers(10, 20))
        colour = tuple(int(c) for c in rng.integers(170, 255, 3))
        box = (int(x), int(y), int(x) + size, int(y) + size)
        (draw.ellipse if label == "disc" else draw.rectangle)(box, fill=colour)
        image.save(root / label / f"{index:06d}.png")
    return root


def memory_of(pid: int) -> tuple[int, int]:
    """(VmRSS, RssAnon) of a process in bytes; (0, 0) once it is gone."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                fields[key] = int(value.split()[0]) * 1024
    except OSError:
        return 0, 0
    return fields.get("VmRSS", 0), fields.get("RssAnon", 0)


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            pass
    return found


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Peaks:
    """Polls a command's process and its worker children: the peak RSS and RssAnon of each."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.coordinator = [0, 0]
        self.worker = [0, 0]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.is_set():
            rss, anon = memory_of(self.pid)
            self.coordinator = [max(self.coordinator[0], rss), max(self.coordinator[1], anon)]
            for child in children_of(self.pid):
                if " worker " in command_of(child):
                    rss, anon = memory_of(child)
                    self.worker = [max(self.worker[0], rss), max(self.worker[1], anon)]
            time.sleep(0.1)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join()


SPACE = """\
name: big
data: {{images: images/, memory_budget: {budget}, split: {{test: 0.2}}}}
model:
  architecture: {{choice: {{cnn: {{blocks: 2, filters: 8}}}}}}
training: {{epochs: 1, batch_size: 64}}
search: {{trials: 2, workers: 1, seed: 0}}
"""


def one_search(folder: Path, budget: int, work: Path) -> dict:
    """``automl search`` on ``folder``: peak memory, time to the first trial, and the outcome."""
    import optuna

    work.mkdir(parents=True)
    (work / "images").symlink_to(folder)
    (work / "big.yaml").write_text(SPACE.format(budget=f"{max(budget // 1024, 1)}KB"))
    os.sync()  # (the folder was just written) and the page cache as the search finds it
    began = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "automl", "search", "big.yaml", "--quiet"],
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peaks = Peaks(proc.pid)
    output = proc.communicate()[0]
    peaks.finish()
    if proc.returncode != 0:
        raise SystemExit(f"the search failed ({proc.returncode}):\n{output[-3000:]}")
    storage = str(work / "automl-runs" / "optuna.journal")
    from automl.tuner.study import open_storage

    trials = optuna.load_study(study_name="big", storage=open_storage(storage)).trials
    first = min(t.datetime_start.timestamp() for t in trials)
    data = work / "automl-runs" / "big" / "data"
    return {
        "coordinator_rss_mb": round(peaks.coordinator[0] / 2**20),
        "coordinator_anon_mb": round(peaks.coordinator[1] / 2**20),
        "worker_rss_mb": round(peaks.worker[0] / 2**20),
        "worker_anon_mb": round(peaks.worker[1] / 2**20),
        "first_trial_s": round(first - began, 1),
        "total_s": round(time.time() - began, 1),
        "streamed": any(data.glob("pixels-*.npy")),
        "trials_complete": sum(t.state.name == "COMPLETE" for t in trials),
    }


def training_set(folder: Path, budget: int, work: Path):
    """``folder``'s training split, in memory or streamed as ``budget`` decides."""
    from automl.config import DataConfig
    from automl.data.images import load_image_folder
    from automl.data.splits import make_splits
    from automl.data.streamed import to_disk

    arrays = load_image_folder(folder, image_size=None, channels=None, memory_budget=budget)
    splits = to_disk(make_splits(arrays, DataConfig(source="images", test=0.2)), work)
    return splits.x_train, splits.y_train


def pipeline_rate(x, y, epochs: int = 3) -> float:
    """Images per second of automl's training pipeline (the first epoch dropped)."""
    from automl.data.pipeline import train_dataset

    ds = train_dataset(x, y, 64, None, seed=0, num_classes=2)
    rates = []
    for epoch in range(epochs):
        began, seen = time.perf_counter(), 0
        for batch, _ in ds:
            seen += int(batch.shape[0])
        if epoch:
            rates.append(seen / (time.perf_counter() - began))
    return statistics.median(rates)


def training_rate(x, y) -> float:
    """Images per second of a small CNN's second epoch, fed by automl's pipeline."""
    import keras

    from automl.data.pipeline import train_dataset

    ds = train_dataset(x, y, 64, None, seed=0, num_classes=2)
    model = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "categorical_crossentropy")
    model.fit(ds, epochs=1, verbose=0)  # tracing
    began = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0)
    return len(y) / (time.perf_counter() - began)


def compare_pipelines(folder: Path, work: Path, repeats: int) -> dict:
    """Streamed against in memory, interleaved ``repeats`` times: medians and their ratio."""
    streamed = training_set(folder, 0, work / "streamed")
    held = training_set(folder, 2**40, work / "memory")
    rates: dict[str, list[float]] = {"streamed": [], "memory": []}
    fits: dict[str, list[float]] = {"streamed": [], "memory": []}
    for _ in range(repeats):
        for name, (x, y) in (("streamed", streamed), ("memory", held)):
            rates[name].append(pipeline_rate(x, y))
    for turn in range(6):  # alternating which goes first: this machine has fast and slow spells
        pair = [("memory", held), ("streamed", streamed)]
        for name, (x, y) in pair[:: 1 if turn % 2 else -1]:
            fits[name].append(training_rate(x, y))
    median = {k: statistics.median(v) for k, v in rates.items()}
    fit = {k: statistics.median(v) for k, v in fits.items()}
    return {
        "pipeline_memory_per_s": round(median["memory"]),
        "pipeline_streamed_per_s": round(median["streamed"]),
        "streamed_vs_memory": round(median["streamed"] / median["memory"], 2),
        "fit_memory_per_s": round(fit["memory"]),
        "fit_streamed_per_s": round(fit["streamed"]),
        "fit_streamed_vs_memory": round(fit["streamed"] / fit["memory"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=int, default=1500, help="images at 1x")
    parser.add_argument("--repeats", type=int, default=5, help="pipeline runs of each path")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--rewrite", action="store_true", help="the report from the last JSON")
    args = parser.parse_args(argv)
    if args.rewrite:
        write(json.loads((args.out / "large_data.json").read_text()), args)
        return 0

    image_bytes = SIDE * SIDE * 3
    budget = 2 * args.base * image_bytes  # between 1x and 4x: 1x in memory, 4x and 16x not
    rows = []
    with tempfile.TemporaryDirectory(prefix="automl-large-") as tmp:
        root = Path(tmp)
        for factor in FACTORS:
            count = args.base * factor
            began = time.monotonic()
            folder = make_folder(root / f"images-{factor}x", count)
            print(f"{factor}x: {count:,} images written in {time.monotonic() - began:.0f} s")
            row = {
                "size": f"{factor}x",
                "images": count,
                "decoded_mb": round(count * image_bytes / 2**20),
                "budget_mb": round(budget / 2**20),
                **one_search(folder, budget, root / f"search-{factor}x"),
            }
            if count * image_bytes * 3 < 2**30:  # in memory, several copies, comfortably
                row.update(compare_pipelines(folder, root / f"pipe-{factor}x", args.repeats))
            print(json.dumps(row))
            rows.append(row)
            if factor == FACTORS[-1]:  # the largest, held in memory: what streaming saves
                held = {
                    **row,
                    "size": f"{factor}x in memory",
                    "budget_mb": "above it",
                    **one_search(folder, 2**40, root / f"search-{factor}x-memory"),
                }
                for key in list(held):
                    if key.startswith(("pipeline", "fit", "streamed_vs")):
                        held.pop(key)
                print(json.dumps(held))
                rows.append(held)
    write(rows, args)
    return 0


def write(rows: list[dict], args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "large_data.json").write_text(json.dumps(rows, indent=2) + "\n")
    columns = [
        "size",
        "images",
        "decoded_mb",
        "budget_mb",
        "streamed",
        "coordinator_rss_mb",
        "coordinator_anon_mb",
        "worker_rss_mb",
        "worker_anon_mb",
        "first_trial_s",
        "total_s",
        "pipeline_memory_per_s",
        "pipeline_streamed_per_s",
        "streamed_vs_memory",
        "fit_memory_per_s",
        "fit_streamed_per_s",
        "fit_streamed_vs_memory",
    ]
    table = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    table += "\n".join(
        "| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in columns) + " |"
        for r in rows
    )
    by_size = {r["size"]: r for r in rows}
    flat = ""
    if "4x" in by_size and "16x" in by_size:
        growth = by_size["16x"]["worker_rss_mb"] / by_size["4x"]["worker_rss_mb"] - 1
        flat = (
            f"\n\nWorker peak RSS from 4x to 16x: {growth:+.0%} (goal: within 20%) while the data "
            f"grew 4x"
        )
        if "16x in memory" in by_size:
            held = by_size["16x in memory"]
            flat += (
                f"; the 16x folder held in memory takes the worker {held['worker_rss_mb']} MB "
                f"and the coordinator {held['coordinator_rss_mb']} MB, against "
                f"{by_size['16x']['worker_rss_mb']} and {by_size['16x']['coordinator_rss_mb']} MB "
                f"streamed (the coordinator's peak is the baselines' sample, capped)"
            )
        ratios = [r["streamed_vs_memory"] for r in rows if r.get("streamed_vs_memory")]
        fits = [r["fit_streamed_vs_memory"] for r in rows if r.get("fit_streamed_vs_memory")]
        if ratios and fits:
            flat += (
                f".\n\nStreamed against in-memory throughput (goal: at least 0.9x): "
                f"{min(ratios):.2f}-{max(ratios):.2f}x iterated from Python, "
                f"{min(fits):.2f}-{max(fits):.2f}x under a training CNN"
            )
        flat += ".\n"
    command = " ".join(["python", "benchmarks/large_data.py", *sys.argv[1:]])
    (args.out / "large_data.md").write_text(
        "# Memory against data size: image folders\n\n"
        f"Command: `{command}` (2-core CPU machine). Synthetic {SIDE}x{SIDE} RGB PNG folders; "
        "one `automl search` per size (1 worker, 2 trials of 1 epoch); memory_budget between "
        "the 1x and 4x folders' decoded sizes. RSS is the peak resident memory polled every "
        "0.1 s, anon its anonymous part (what the process holds itself). Pipeline figures are "
        "images per second of automl's training pipeline (batches of 64, no model), median of "
        "epochs 2-3.\n\n" + table + flat + "\n"
    )


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: what the dashboard costs — the same GAN steps through plain ``fit(verbose=0)``
and through the run manager (streaming callback, SQLite store, sample grids at the
default cadence the app uses).

Both train the tuned GAN step from the same seed on the same batches. Runs come in
rounds of one plain and one managed run, alternating which goes first (plain, managed,
managed, plain, ...); the reported overhead is the median over rounds of the managed
run's seconds per step inside ``fit`` (train begin to train end, grids included) over
its partner's. Pairing neighbours cancels most of the slow drift of a shared machine;
the medians of each kind are printed too.
``callback_time`` is the time the streaming callback itself measured it spent, as a
share of the rest of ``fit``: the same overhead, counted instead of timed, so it does
not drown in the run-to-run noise of a shared machine (``spread_plain``).

    python bench/overhead.py [--steps 30] [--repeats 6] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _common import choose_device, device_name, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    choose_device(args.device)

    import keras

    from runtime import Cadence, RunManager
    from trainers import get_variant

    config = {"batch_size": args.batch_size, "num_images": args.batch_size * args.steps, "step": "tuned", "seed": 3}
    spec = get_variant("gan")
    manager = RunManager(home=tempfile.mkdtemp(prefix="bench-overhead-"), cadence=Cadence())  # as the app runs it

    def plain() -> float:
        keras.utils.set_random_seed(config["seed"])
        exp = spec.build(spec.validate(config))
        marks = {}

        class Clock(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                marks["begin"] = time.perf_counter()

            def on_train_end(self, logs=None):
                marks["end"] = time.perf_counter()

        exp.model.fit(**exp.fit_kwargs, verbose=0, callbacks=[Clock()])
        return (marks["end"] - marks["begin"]) / args.steps

    accounted = []

    def managed() -> float:
        run_id = manager.start("gan", config)
        assert manager.wait(run_id) == "completed", manager.snapshot(run_id).error
        run = manager._live(run_id)
        accounted.append(run.overhead_seconds / (run.fit_seconds - run.overhead_seconds))
        return run.fit_seconds / args.steps

    results = {"plain": [], "managed": []}
    for i in range(args.repeats):
        order = ("plain", "managed") if i % 2 == 0 else ("managed", "plain")
        for kind in order:
            results[kind].append(plain() if kind == "plain" else managed())
            print(f"  {kind:8s} {1000 * results[kind][-1]:8.1f} ms/step", flush=True)
    p, m = median(results["plain"]), median(results["managed"])
    paired = median([mm / pp for pp, mm in zip(results["plain"], results["managed"])])
    print(
        f"SUMMARY overhead device={device_name()!r} steps={args.steps} batch={args.batch_size} rounds={args.repeats} "
        f"plain_ms={1000 * p:.1f} managed_ms={1000 * m:.1f} overhead={100 * (paired - 1):+.1f}% (paired) "
        f"callback_time={100 * median(accounted):.1f}% "
        f"spread_plain={1000 * (max(results['plain']) - min(results['plain'])):.0f}ms"
    )


if __name__ == "__main__":
    main()

"""The long fuzzing run: every parser target of `tests/reliability/fuzzing.py`, 100,000+ inputs.

    python bench/reliability/fuzz.py                 # 15,000 examples per target (120,000)
    python bench/reliability/fuzz.py --examples 500  # a quicker look
    python bench/reliability/fuzz.py --seed 7        # reproduce a run

Random (not derandomized like the CI run), so every run explores new inputs; the seed is
printed. Prints one line per target and exits non-zero on the first failing input, which
hypothesis shrinks and prints. Record the summary in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hypothesis import HealthCheck, given, seed, settings

from tests.reliability.fuzzing import TARGETS


def _counting(target: Callable[..., None], count: list[int]) -> Callable[..., None]:
    def counted(**kwargs: object) -> None:
        count[0] += 1
        target(**kwargs)

    return counted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=15_000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--only", default=None, help="run one target")
    args = parser.parse_args(argv)
    # The W3C propagator logs every malformed baggage entry it drops: noise by the thousand here.
    logging.getLogger("opentelemetry.baggage").setLevel(logging.ERROR)
    run_seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"seed {run_seed}, {args.examples} examples per target")
    total, started = 0, time.monotonic()
    for name, (target, strategies) in sorted(TARGETS.items()):
        if args.only and name != args.only:
            continue
        count = [0]
        test = settings(
            max_examples=args.examples,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )(given(**strategies)(_counting(target, count)))
        t0 = time.monotonic()
        seed(run_seed)(test)()
        elapsed = time.monotonic() - t0
        total += count[0]
        print(f"{name:24} {count[0]:>8} inputs  {elapsed:7.1f} s  0 failures")
    print(f"total {total} inputs in {time.monotonic() - started:.0f} s, 0 exceptions escaped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The classics benchmark times README.md's own code (docs/benchmarks.md's numbers
are for what users are shown), so a change to one must be a change to both."""

from __future__ import annotations

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_classics_benchmark_times_the_readmes_own_lines():
    spec = importlib.util.spec_from_file_location(
        "benchmark_classics", ROOT / "scripts" / "benchmark_classics.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    readme = (ROOT / "README.md").read_text().splitlines()
    assert len(benchmark.FORMS) >= 6
    for name, (_, code) in benchmark.FORMS.items():
        for line in code.splitlines():
            assert line in readme, f"{name}: {line!r} is not a line of README.md"

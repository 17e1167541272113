"""The methods benchmark keeps the entries of methods that a run with --methods did not rerun."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import methods_embedded_mnist as bench  # noqa: E402


def test_merge_keeps_methods_not_rerun(tmp_path):
    path = tmp_path / "methods.json"
    earlier = {"command": "old command", "date": "then", "methods": {"gan_500": {"epochs": 30}, "cgan_concat": {"epochs": 8}}}
    path.write_text(json.dumps(earlier))
    merged = bench.merge_methods(path, {"cgan_concat": {"epochs": 12, "command": "new"}})
    assert merged["cgan_concat"] == {"epochs": 12, "command": "new"}
    assert merged["gan_500"] == {"epochs": 30, "command": "old command", "date": "then"}
    assert list(merged) == ["cgan_concat", "gan_500"]  # in the order of METHODS


def test_merge_without_an_earlier_file(tmp_path):
    assert bench.merge_methods(tmp_path / "none.json", {"gan_500": {"epochs": 30}}) == {"gan_500": {"epochs": 30}}

"""The README's own-datamodule example runs, and the base gives it every promised option."""

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- tested-example: {name} -->\s*```python\n(.*?)```", text, re.S)
    assert match, f"no tested-example {name} in the README"
    return match.group(1)


def test_own_datamodule_example(tmp_path):
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(readme_example("own-datamodule"), "README.md", "exec"), namespace)
    data, x, y = namespace["data"], namespace["x"], namespace["y"]
    assert x.shape == (32, 1, 16, 16) and float(x.min()) == -1.0 and float(x.max()) == 1.0
    assert set(y.tolist()) == {0, 1}
    batch, _, _ = next(iter(data.train_dataloader()))  # Lightning's CombinedLoader yields (batch, index, loader)
    assert batch["labeled"][0].shape == (32, 1, 16, 16) and batch["unlabeled"].shape == (32, 1, 16, 16)
    assert len(data.val_set) == 40 and len(data.labeled_set) == 20 and len(data.train_set) == 720
    assert torch.bincount(data.labeled_set.y, minlength=2).tolist() == [10, 10]
    assert data.img_shape == (1, 16, 16) and data.has_split("val")
    # Class 0 is horizontal stripes: every row of an image is constant.
    x, y = data.real_dataset("test").__getitems__(list(range(100)))
    horizontal = x[y == 0]
    assert torch.equal(horizontal, horizontal[..., :1].expand_as(horizontal))
    assert data.cache_identity("test") != data.cache_identity("train")

"""A random batch in the trace dataset's layout, for model tests."""

import torch


def random_batch(b: int = 2, n: int = 5, h: int = 16, p: int = 4, image: int = 32, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    batch = {
        "image": torch.randint(0, 255, (b, 3, image, image), dtype=torch.uint8, generator=g),
        "instruction": ["push the puck", "open the drawer", "reach", "press"][:b] * (b // 4 + 1),
        "points_uv": torch.rand(b, n, 2, generator=g) * 2 - 1,
        "points_z": torch.rand(b, n, generator=g),
        "point_mask": torch.ones(b, n, dtype=torch.bool),
        "future": torch.randn(b, n, h, 3, generator=g) * 0.3,
        "future_valid": torch.ones(b, n, h, dtype=torch.bool),
        "history": torch.zeros(b, n, p, 3),
        "history_valid": torch.zeros(b, n, p, dtype=torch.bool),
        "z_valid": torch.tensor([True, False] * (b // 2) + [True] * (b % 2)),
        "cluster_ids": torch.zeros(b, n, dtype=torch.long),
    }
    batch["instruction"] = batch["instruction"][:b]
    batch["point_mask"][-1, n // 2:] = False
    return batch

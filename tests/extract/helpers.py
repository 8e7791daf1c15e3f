"""A tiny convolutional model and preprocessing shared by the extract tests (and by the scripts
that the kill / concurrency tests run in subprocesses)."""

from __future__ import annotations

import torch

from neuroalign.extract import ImagePreprocess, LoadedModel

PRE = ImagePreprocess(resize=(16, 16), crop=None)


class Tiny(torch.nn.Module):
    """Two conv stages and a readout; counts forward calls (and can refuse big batches)."""

    def __init__(self, max_batch: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(6 * 8 * 8, 5)
        self._calls = 0
        self.max_batch = max_batch

    def forward(self, x):
        if self.max_batch is not None and x.shape[0] > self.max_batch:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self._calls += 1
        h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(h.flatten(1))


def tiny(**kw) -> LoadedModel:
    return LoadedModel(Tiny(**kw), PRE, "test:tiny", ("conv1", "conv2", "fc"))

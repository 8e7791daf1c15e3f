"""Image batches for ``extract``: files decoded in DataLoader worker processes, in-memory arrays
preprocessed in one vectorised call per batch, and a cheap up-front check of image files."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core import StimulusSet
from ._preprocess import ImagePreprocess

__all__ = ["check_image_files", "image_batches"]


def check_image_files(stimuli: StimulusSet) -> list[tuple[int, str]]:
    """(position, reason) for every image file that is missing or that PIL cannot identify and
    verify (truncated or corrupt files); in-memory images are not checked here."""
    if stimuli.images is None or isinstance(stimuli.images, np.ndarray):
        return []
    from PIL import Image

    bad = []
    for i, img in enumerate(stimuli.images):
        if not isinstance(img, (str, Path)):
            continue
        try:
            with Image.open(img) as im:
                im.verify()
            with Image.open(img) as im:  # verify() leaves the file unusable; a full decode
                im.load()  # catches truncated pixel data, which verify() does not
        except FileNotFoundError:
            bad.append((i, f"{img}: no such file"))
        except Exception as err:  # PIL raises many types for corrupt data
            bad.append((i, f"{img}: {type(err).__name__}: {err}"))
    return bad


class _Images:
    """A map-style dataset: position → preprocessed image tensor (runs in worker processes)."""

    def __init__(self, stimuli: StimulusSet, rows: np.ndarray, preprocess: Callable[[Any], Any]):
        self.stimuli, self.rows, self.preprocess = stimuli, rows, preprocess

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, k: int) -> Any:
        return self.preprocess(self.stimuli.load_image(int(self.rows[k])))


def image_batches(
    stimuli: StimulusSet,
    rows: np.ndarray,
    preprocess: Callable[[Any], Any],
    batch_size: int,
    num_workers: int | None,
) -> Iterator[tuple[np.ndarray, Any]]:
    """(positions, (B, 3, h, w) tensor) for consecutive batches of ``rows``."""
    import torch

    arr = stimuli.images
    in_memory = isinstance(arr, np.ndarray)
    if isinstance(arr, np.ndarray) and isinstance(preprocess, ImagePreprocess) and arr.ndim == 4:
        for start in range(0, len(rows), batch_size):
            sel = rows[start : start + batch_size]
            if arr.shape[-1] == 3 and arr.dtype == np.uint8:
                yield sel, preprocess.batch(arr[sel])
            else:  # grayscale / RGBA / float arrays: convert image by image
                yield sel, preprocess.batch(np.stack([stimuli.load_image(i) for i in sel]))
        return
    if num_workers is None:
        num_workers = 0 if in_memory else min(4, max(0, (os.cpu_count() or 1) - 1))
    if num_workers and multiprocessing.current_process().daemon:
        num_workers = 0  # a daemonic process (a Dask worker) cannot start DataLoader workers
    loader: Any = torch.utils.data.DataLoader(
        _Images(stimuli, rows, preprocess),  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
    )
    start = 0
    for x in loader:
        sel = rows[start : start + len(x)]
        start += len(x)
        yield sel, x

"""The forward loop behind ``extract``: hooks that reduce each layer's output on the device, the
model's state kept and restored, out-of-memory back-off, the fitted-reducer pass, and reduced
rows streamed to the store (large layers straight from each batch to their place in the entry's
file, others through per-chunk buffers), written by a background thread while the next batch is
computed."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ..core._progress import track
from ..core.exceptions import NeuroalignWarning, ValidationError
from ._inputs import batch_len, slice_batch, to_device
from ._reducers import LAYER_MODULE, TOKEN_POOLING, Reducer, _tensor, set_fit_batch
from ._store import LayerEntry

__all__ = ["Capture", "ModelState", "run_passes"]


class Capture:
    """Forward hooks on the requested layers: each reduces its output and appends it to a list;
    counts calls so that a module run twice in one pass (a shared activation) is caught. The
    first pass also records the forward order of *every* module (``ranks``), so layers can be
    ordered the same way whether they were computed now or read from the store.

    **Views are not copied, and not trusted blindly.** A reduction that returns a view of the
    output (``flatten``, a token picked out) is kept without a copy — the copy of every large
    layer's values is most of an extraction's cost beyond the forward pass — with the output's
    version counter at capture time (:attr:`watch`). A later module may change those values in
    place (``Conv → BatchNorm → ReLU(inplace=True)``: BatchNorm's output *is* the ReLU's): after
    each pass :meth:`changed` names the layers whose counter moved; their pass is run again,
    and from then on those layers are copied in the hook (:attr:`copy`)."""

    def __init__(self, module: Any, names: Sequence[str], reducer: Reducer) -> None:
        self.mods = dict(module.named_modules())
        self.names = list(names)
        self.reducer = reducer
        self.out: dict[str, list[Any]] = {n: [] for n in names}
        self.calls: dict[str, int] = {}
        self.ranks: dict[str, int] | None = None
        self.copy: set[str] = set()  # layers whose output the forward changes after the hook
        self.watch: list[tuple[str, Any, int]] = []  # (layer, kept view, its version then)

    def _keep(self, name: str, out: Any, reduced: Any) -> Any:
        """``reduced`` as kept: a copy when it shares memory with the output of a layer known
        to be changed later in the pass (or one whose changes cannot be seen), else itself,
        watched when it is a view."""
        try:
            base = _tensor(out, name)
            shared = reduced.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()
        except Exception:  # no tensor storage to compare (a custom reducer's object)
            return reduced
        if not shared or reduced.numel() == 0:
            return reduced
        if name not in self.copy:
            try:
                self.watch.append((name, reduced, reduced._version))
                return reduced
            except RuntimeError:  # an inference tensor (the model's own inference_mode)
                self.copy.add(name)
        return reduced.clone()

    def changed(self) -> set[str]:
        """Layers whose kept view was changed in place since the hook ran (then forgotten)."""
        moved = {nm for nm, t, v in self.watch if t._version != v}
        self.watch = []
        return moved

    @contextlib.contextmanager
    def hooks(self) -> Iterator[None]:
        handles = []
        order: list[str] = []

        def make(name: str) -> Callable[..., None]:
            def hook(_m: Any, _inp: Any, out: Any) -> None:
                self.calls[name] = self.calls.get(name, 0) + 1
                token = LAYER_MODULE.set((self.mods, name))  # the reducer reads the axes from it
                try:
                    reduced = self.reducer(out, name).detach().float()
                    self.out[name].append(self._keep(name, out, reduced))
                finally:
                    LAYER_MODULE.reset(token)

            return hook

        def first_call(name: str) -> Callable[..., None]:
            def hook(*_: Any) -> None:
                order.append(name)

            return hook

        try:
            if self.ranks is None:  # once: every module's forward order (pre-hooks, cheap)
                for n, m in self.mods.items():
                    if n:
                        handles.append(m.register_forward_pre_hook(first_call(n)))
            for n in self.names:
                handles.append(self.mods[n].register_forward_hook(make(n)))
            yield
            if self.ranks is None:
                ranks: dict[str, int] = {}
                for n in order:
                    ranks.setdefault(n, len(ranks))
                self.ranks = ranks
        finally:
            for h in handles:
                h.remove()

    def drop(self, names: Sequence[str]) -> None:
        for n in names:
            self.names.remove(n)
            self.out.pop(n, None)


class ModelState:
    """Records the module's mode, device and memory format, and puts them back."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.training = module.training
        first = next(iter(module.parameters()), None)
        self.device = first.device if first is not None else None
        self.channels_last = False

    def prepare(self, device: Any, channels_last: bool) -> None:
        import torch

        self.module.eval().to(device)
        if channels_last:
            self.module.to(memory_format=torch.channels_last)
            self.channels_last = True

    def restore(self) -> None:
        import torch

        self.module.train(self.training)
        if self.channels_last:
            self.module.to(memory_format=torch.contiguous_format)
        if self.device is not None:
            self.module.to(self.device)


@contextlib.contextmanager
def _full_float32(dev: Any) -> Any:
    """Without ``amp``, float32 features on a GPU are float32 products: cuDNN's convolutions run
    in TF32 by default (10-bit mantissa), which on an H100 moved ResNet-18 features by up to
    7e-3 from the CPU's; the flags are restored afterwards. ``amp="bf16"`` is the fast option."""
    if dev.type != "cuda":
        yield
        return
    import torch

    flags = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


def _is_oom(err: BaseException) -> bool:
    import torch

    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in str(err).lower()


def _check_calls(capture: Capture, preset: bool) -> None:
    repeated = {k: v for k, v in capture.calls.items() if v > 1}
    missing = [nm for nm in capture.names if nm not in capture.calls]
    if not repeated and not missing:
        return
    if preset:
        warnings.warn(
            "left out of the layer preset: "
            + (
                f"modules run more than once per pass {sorted(repeated)} (shared activations; "
                "their parent blocks are captured) "
                if repeated
                else ""
            )
            + (f"modules never run {missing}" if missing else ""),
            NeuroalignWarning,
            stacklevel=6,
        )
        capture.drop([*repeated, *missing])
        if not capture.names:
            raise ValidationError("no layer of the preset runs exactly once per forward pass.")
        return
    raise ValidationError(
        "each layer must run exactly once per forward pass; "
        + (
            f"called more than once: {repeated} (a shared module, e.g. an activation reused "
            "by several blocks: pick the block, or the module before it with "
            "reduce_options={'activation': ...}; `neuroalign layers` shows how). "
            if repeated
            else ""
        )
        + (f"never called: {missing}." if missing else "")
    )


class _Writer:
    """Writes to the store on one background thread while the forward pass goes on: one job at a
    time, the next job waits for the previous one, whose error (a full disk) is raised there in
    the calling thread; :meth:`close` waits for the last one, so every chunk handed over is
    recorded (an interrupted run resumes from it)."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="neuroalign-store")
        self.pending: Future[None] | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Start ``job`` once the previous one has ended."""
        self.wait()
        self.pending = self.pool.submit(job)

    def wait(self) -> None:
        """The previous job's end (its error raised here)."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self, failed: bool) -> None:
        """Wait for the last job; after a failure elsewhere, its own error is not raised over
        the first one."""
        try:
            self.wait()
        except Exception:
            if not failed:
                raise
        finally:
            self.pool.shutdown(wait=True)


class _Rows:
    """Reduced rows, arriving in stimulus order. Layers the store writes in place (large ones)
    go from each batch straight to their offset in the entry's file (no buffer, no copy);
    the others are copied into one buffer per layer (``chunk_size`` rows), and a complete chunk
    goes to the store. With ``writer``, the writes run on its thread while the next batch is
    computed (a second buffer set fills meanwhile, so each is half the budget). Rows of chunks
    already stored are dropped. Without a store the chunk is the whole result."""

    def __init__(
        self,
        n: int,
        chunk_size: int,
        entries: dict[str, LayerEntry],
        writer: _Writer | None = None,
    ) -> None:
        self.n, self.size, self.entries, self.writer = n, chunk_size, entries, writer
        self.buffers: dict[str, np.ndarray] = {}
        self.writing: dict[str, np.ndarray] = {}  # the buffer set handed to the writer last
        self.skip: set[int] = set()
        self.direct: set[str] | None = None

    def put(self, start: int, pieces: dict[str, Any]) -> None:
        arrays = {nm: p.cpu().numpy() for nm, p in pieces.items()}
        if self.direct is None:  # decided with the first rows: which layers go in place
            self.direct = {
                nm
                for nm, a in arrays.items()
                if self.entries and self.entries[nm].in_place(a.shape[1], self.size)
            }
        buffered = [nm for nm in arrays if nm not in self.direct]
        rows = len(next(iter(arrays.values())))
        segments: list[tuple[int, int, int, int]] = []  # (chunk, row in chunk, row here, rows)
        i = 0
        while i < rows:
            pos = start + i
            c = pos // self.size
            end = min((c + 1) * self.size, self.n)
            take = min(rows - i, end - pos)
            if c not in self.skip:
                at = pos - c * self.size
                segments.append((c, at, i, take))
                for nm in buffered:
                    arr = arrays[nm]
                    if nm not in self.buffers:
                        self.buffers[nm] = np.empty((self.size, arr.shape[1]), dtype=np.float32)
                    self.buffers[nm][at : at + take] = arr[i : i + take]
                if pos + take == end and self.entries and buffered:
                    self._store(c, end - c * self.size, buffered)
            i += take
        if self.direct and segments:
            direct = {nm: arrays[nm] for nm in self.direct}

            def job() -> None:
                for c, at, i, take in segments:
                    for nm, arr in direct.items():
                        self.entries[nm].write_rows(c, self.size, at, arr[i : i + take])

            self._run(job)

    def _store(self, c: int, rows: int, names: list[str]) -> None:
        """Chunk ``c`` (its first ``rows`` rows) of the buffered layers to the store."""
        full = self.buffers
        blocks = {nm: full[nm][:rows] for nm in names}

        def job() -> None:
            for nm, block in blocks.items():
                self.entries[nm].write_chunk(c, self.size, block)

        self._run(job)
        if self.writer is not None:  # every earlier job has ended: their buffers are free
            self.buffers, self.writing = self.writing, full

    def _run(self, job: Callable[[], None]) -> None:
        if self.writer is None:
            job()
        else:
            self.writer.submit(job)


def run_passes(
    module: Any,
    forward: Callable[[Any, Any], Any] | None,
    source: Any,
    capture: Capture,
    entries: dict[str, LayerEntry],
    done: set[int],
    chunk_size: int | None,
    opts: dict[str, Any],
) -> dict[str, Any]:
    """Every pass over the inputs not yet in the store; returns the in-memory arrays of the
    layers (without a store) or ``{layer: True}`` for the layers written to it."""
    import torch

    n, dev = source.n, opts["dev"]
    micro = opts["batch_size"]
    stored = bool(entries)

    def call(inp: Any) -> None:
        if forward is not None:
            forward(module, inp)
        elif isinstance(inp, dict):
            module(**inp)
        elif isinstance(inp, (tuple, list)):
            module(*inp)
        else:
            module(inp)

    def run_batch(cap: Capture, x: Any, pool: Any) -> list[int]:
        """One batch through the model, in passes of ``micro`` stimuli (halved on OOM); returns
        the rows of each pass."""
        nonlocal micro
        a, total = 0, batch_len(x)
        sizes: list[int] = []
        while a < total:
            b = min(a + micro, total)
            lengths = {nm: len(cap.out[nm]) for nm in cap.names}
            cap.calls = {}
            token = TOKEN_POOLING.set(None if pool is None else (pool[0][a:b], pool[1][a:b]))
            try:
                autocast = (
                    torch.autocast(dev.type, dtype=opts["amp_dtype"])
                    if opts["amp_dtype"] is not None
                    else _full_float32(dev)
                )
                # no_grad, not inference_mode: kept views need their version counters
                cap.watch = []
                with cap.hooks(), torch.no_grad(), autocast:
                    call(to_device(slice_batch(x, a, b, total), dev, opts["channels_last"]))
                moved = cap.changed()
                if moved:  # values changed in place after their hook: copied from now on
                    cap.copy |= moved
                    for nm, k in lengths.items():
                        del cap.out[nm][k:]
                    continue
            except Exception as err:
                if not _is_oom(err) or b - a <= 1:
                    raise
                for nm, k in lengths.items():
                    del cap.out[nm][k:]
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
                micro = max(1, (b - a) // 2)
                opts["meta"]["batch_size_used"] = micro
                warnings.warn(
                    f"out of memory on {dev} with {b - a} stimuli per pass; continuing with "
                    f"{micro}.",
                    NeuroalignWarning,
                    stacklevel=5,
                )
                continue
            finally:
                TOKEN_POOLING.reset(token)
            _check_calls(cap, opts["preset"])
            sizes.append(b - a)
            a = b
        return sizes

    # reducers that learn from the data (ipca): a first pass over every stimulus fits them, on
    # blocks of the batch size (the store key holds it)
    fit = getattr(capture.reducer, "fit", None)
    if fit is not None:
        set_fit_batch(capture.reducer, opts["batch_size"])
        fitting = Capture(module, capture.names, fit)
        fitting.ranks = {}
        bar = iter(track(range(n), n, f"fit {opts['label']}", opts["quiet"]))
        for sel, x, pool in source.batches(None, opts["batch_size"]):
            run_batch(fitting, x, pool)
            fitting.out = {nm: [] for nm in fitting.names}
            for _ in sel:
                next(bar, None)
        for _ in bar:
            pass
        capture.reducer.finish_fit()  # type: ignore[attr-defined]
        capture.drop([nm for nm in capture.names if nm not in fitting.names])

    # chunk size: from the store, else from the budget and one stimulus's reduced features; a
    # large `flatten` is announced with its size before the work
    announced = [not opts["warn_size"]]

    def announce(per_stim: int) -> None:
        """Before the bulk of the work: the size of a large ``flatten``."""
        total = per_stim * n
        if not announced[0] and total > opts["warn_size"]:
            warnings.warn(
                f"reduce='flatten' gives {per_stim // 4:,} features per stimulus: about "
                f"{total / 1e6:,.0f} MB for {n} stimuli ({len(capture.names)} layers, float32). "
                "'avgpool' or 'srp' (reduce_options={'n_components': ...}) give compact features.",
                NeuroalignWarning,
                stacklevel=5,
            )
        announced[0] = True

    per_stim = 0
    if (
        stored
        and chunk_size is None
        and (source.random_access or not getattr(source, "one_shot", False))
    ):
        first = source.batches(np.arange(1) if source.random_access else None, 1)
        _, x, pool = next(iter(first))
        first.close()  # type: ignore[attr-defined]
        run_batch(capture, x, pool)
        per_stim = sum(4 * int(np.prod(v[0].shape[1:])) for v in capture.out.values() if v)
        capture.out = {nm: [] for nm in capture.names}
        announce(per_stim)
    if not stored:
        chunk_size = n
    elif chunk_size is None:  # two chunk buffers (one written while the other fills)
        b = opts["batch_size"]
        chunk_size = min(n, max(b, opts["budget"] // 2 // max(1, per_stim) // b * b))
        done = set.intersection(*(e.claim(chunk_size) for e in entries.values()))
    assert chunk_size is not None
    for nm, e in entries.items():  # the forward order, stored with each entry
        if capture.ranks is not None and nm in capture.ranks:
            e.forward_rank = capture.ranks[nm]

    writer = _Writer() if stored else None
    rows_out = _Rows(n, chunk_size, entries, writer)
    rows_out.skip = set(done)
    n_chunks = -(-n // chunk_size)

    def refresh() -> None:
        """Chunks another writer finished meanwhile are skipped (every entry must have them)."""
        if not stored:
            return
        sets = [entries[nm].finished() for nm in capture.names]
        every = set(range(n_chunks))
        rows_out.skip = set(done) | set.intersection(*(every if s is None else s for s in sets))

    todo_rows = sum(min(n, (c + 1) * chunk_size) - c * chunk_size for c in range(n_chunks))
    todo_rows -= sum(min(n, (c + 1) * chunk_size) - c * chunk_size for c in done)
    bar = iter(track(range(todo_rows), todo_rows, f"extract {opts['label']}", opts["quiet"]))

    def consume(sel: np.ndarray, x: Any, pool: Any) -> None:
        sizes = run_batch(capture, x, pool)
        pieces = {nm: capture.out[nm] for nm in capture.names}
        if not announced[0]:
            announce(sum(4 * int(np.prod(p[0].shape[1:])) for p in pieces.values() if p))
        capture.out = {nm: [] for nm in capture.names}
        at = int(sel[0])
        for j, size in enumerate(sizes):
            rows_out.put(at, {nm: p[j] for nm, p in pieces.items()})
            at += size
        for _ in sel:
            next(bar, None)

    failed = True
    try:
        if source.random_access:
            for c in range(n_chunks):
                refresh()
                if c in rows_out.skip:
                    continue
                rows = np.arange(c * chunk_size, min(n, (c + 1) * chunk_size))
                for sel, x, pool in source.batches(rows, opts["batch_size"]):
                    consume(sel, x, pool)
        else:
            refresh()
            for sel, x, pool in source.batches(None, opts["batch_size"]):
                chunks = set(range(int(sel[0]) // chunk_size, int(sel[-1]) // chunk_size + 1))
                if chunks <= rows_out.skip:
                    continue
                consume(sel, x, pool)
                if (int(sel[-1]) + 1) % chunk_size == 0:
                    refresh()
        failed = False
    finally:
        if writer is not None:
            writer.close(failed)
    for _ in bar:  # close the bar
        pass
    if stored:
        return {nm: True for nm in capture.names}
    return {nm: rows_out.buffers[nm] for nm in capture.names if nm in rows_out.buffers}

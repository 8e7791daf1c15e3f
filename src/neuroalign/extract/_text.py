"""Text stimuli: tokenization and the token-pooling policy.

Policy (one for every text model):

- a **sentence** (a text without a span) is represented by its content tokens: padding and the
  tokenizer's special tokens (``[CLS]``, ``[SEP]``, ``<s>``, ``<|endoftext|>``, CLIP's start/end
  tokens) are left out;
- a **word in context** is a text plus a character span (metadata columns ``char_start`` and
  ``char_end``, end exclusive): the tokens whose character offsets overlap the span, found with the
  fast tokenizer's ``offset_mapping`` (so a word split into sub-words keeps all its pieces);
- ``avgpool`` averages those tokens, ``last_token`` takes the last of them (for causal models: the
  position that has seen the whole word/sentence), ``cls_token`` takes position 0.

A text whose span falls outside the tokens kept after truncation is an error naming the stimulus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import StimulusSet
from ..core.exceptions import ConfigurationError, ValidationError

__all__ = ["TokenBatch", "tokenize"]


@dataclass(frozen=True)
class TokenBatch:
    """Model inputs for a batch of texts and the pooling they imply.

    Attributes
    ----------
    inputs : dict or tensor
        What the model's text forward takes (``input_ids``, ``attention_mask`` … or a tensor).
    weights : tensor (batch, tokens)
        Pooling weights: 1/k on the k tokens that represent each stimulus, 0 elsewhere.
    last : tensor (batch,)
        Position of the last pooled token of each stimulus.
    """

    inputs: Any
    weights: Any
    last: Any


def _spans(stimuli: StimulusSet, idx: np.ndarray) -> np.ndarray | None:
    meta = stimuli.metadata
    if "char_start" not in meta.columns and "char_end" not in meta.columns:
        return None
    if not {"char_start", "char_end"} <= set(meta.columns):
        raise ValidationError("word spans need both metadata columns 'char_start' and 'char_end'.")
    spans = meta[["char_start", "char_end"]].to_numpy()[idx]
    return np.asarray(spans, dtype=np.int64)


def tokenize(
    tokenizer: Any, stimuli: StimulusSet, idx: np.ndarray, max_length: int | None = None
) -> TokenBatch:
    """Tokenize the texts at positions ``idx`` and build their pooling weights (see module doc)."""
    import torch

    assert stimuli.texts is not None
    texts = [stimuli.texts[i] for i in idx]
    spans = _spans(stimuli, idx)
    if callable(getattr(tokenizer, "batch_encode_plus", None)) or hasattr(tokenizer, "is_fast"):
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigurationError(
                "text extraction needs a fast (Rust) Hugging Face tokenizer for character offsets; "
                f"{type(tokenizer).__name__} is a slow one."
            )
        if tokenizer.pad_token is None:  # GPT-2 style tokenizers have none; padding is masked out
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        enc = tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        offsets = enc.pop("offset_mapping")
        special = enc.pop("special_tokens_mask").bool()
        keep = enc["attention_mask"].bool() & ~special
        if spans is not None:
            start = torch.as_tensor(spans[:, 0])[:, None]
            end = torch.as_tensor(spans[:, 1])[:, None]
            keep &= (offsets[..., 0] < end) & (offsets[..., 1] > start)
        inputs: Any = dict(enc)
    else:  # open_clip: a callable returning a (batch, context) tensor of ids, 0 = padding
        if spans is not None:
            raise ConfigurationError(
                "word spans need a tokenizer with character offsets (an 'hf:' model); open_clip's "
                "tokenizer has none."
            )
        ids = tokenizer(texts)
        eot = ids.argmax(dim=-1)  # the end-of-text token has the largest id
        pos = torch.arange(ids.shape[1])[None]
        keep = (ids != 0) & (pos > 0) & (pos < eot[:, None])
        inputs = ids
    counts = keep.sum(1)
    empty = torch.nonzero(counts == 0).flatten().tolist()
    if empty:
        bad = [str(stimuli.ids[idx[i]]) for i in empty]
        raise ValidationError(
            f"no tokens left to represent stimuli {bad[:10]} (an empty text, or a span past the "
            "truncation length); check their text / char_start / char_end."
        )
    weights = keep.float() / counts[:, None].float()
    last = (keep * torch.arange(keep.shape[1])[None]).argmax(dim=1)
    return TokenBatch(inputs, weights, last)

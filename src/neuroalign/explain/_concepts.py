"""Concept ranking in a joint embedding space (BrainSCUBA) and the LaVCa-style check.

A *concept space* is a vocabulary with one embedding per concept in the feature space an encoder
was fitted on: texts through a model's text tower (CLIP's joint image–text space), or a
classifier's class readout (the rows of its last linear layer live in that layer's input space).

- ``softmax_projection`` (Luo et al. 2024, BrainSCUBA): a voxel's weight ``w`` is replaced by a
  softmax-weighted average of natural-image embeddings ``e_j`` (all unit norm),
  ``w' = Σ_j softmax_j(ŵ·ê_j / τ) ê_j``, which puts it on the image manifold, then concepts are
  ranked by ``cos(w', t_c)``;
- ``weight``: concepts ranked by ``cos(w, t_c)`` directly;
- :func:`concept_prediction` (LaVCa, Matsuyama et al. 2025): how well a concept predicts the voxel,
  ``r = corr_s(cos(x_s, t_c), y_s)`` over stimuli ``s``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import Activations, Responses, Result, align, make_table
from ..core._backend import chunk_slices
from ..core._registry import lookup, register
from ..core._validation import check_array, check_ids, check_positive, parse_memory_budget
from ..core.exceptions import ShapeError, ValidationError
from ._readout import LinearReadout, as_readout, target_labels

__all__ = [
    "BRAINSCUBA_TEMPERATURE",
    "CONCEPT_METHODS",
    "ConceptSpace",
    "concept_prediction",
    "rank_concepts",
]

#: The softmax temperature of BrainSCUBA's projection onto natural-image embeddings (τ = 1/150).
BRAINSCUBA_TEMPERATURE = 1.0 / 150.0

CONCEPT_METHODS: dict[str, Callable[..., np.ndarray]] = {}


def _unit(x: np.ndarray, axis: int = -1) -> np.ndarray:
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


@dataclass(frozen=True, eq=False)
class ConceptSpace:
    """A concept vocabulary embedded in a model's feature space.

    Parameters
    ----------
    names : sequence of str
        Unique, non-empty concept names.
    embeddings : array (n_concepts, n_features)
    model, layer : str
        Where the embeddings live (the encoder's features must come from the same place).
    source : str
        ``"text"`` (a text tower), ``"classifier"`` (class readout weights) or ``"user"``.

    Examples
    --------
    >>> ConceptSpace(["face", "house"], np.eye(2, 4)).n_concepts
    2
    """

    names: Sequence[str]
    embeddings: np.ndarray
    model: str = ""
    layer: str = ""
    source: str = "user"

    def __post_init__(self) -> None:
        names = [str(n) for n in self.names]
        check_vocabulary(names)
        emb = check_array(self.embeddings, "concept embeddings", ndim=2, dtype=np.float32)
        if emb.shape[0] != len(names):
            raise ShapeError(
                f"{len(names)} concept names but {emb.shape[0]} embeddings (shape {emb.shape}); "
                "give one embedding row per concept."
            )
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "embeddings", emb)

    @property
    def n_concepts(self) -> int:
        return len(self.names)

    @property
    def n_features(self) -> int:
        return int(self.embeddings.shape[1])


def check_vocabulary(names: Sequence[str]) -> list[str]:
    """Concept names must be non-empty strings without duplicates (the error lists offenders)."""
    names = [str(n) for n in names]
    if not names:
        raise ValidationError("the concept vocabulary is empty; give at least one concept.")
    empty = [i for i, n in enumerate(names) if not n.strip()]
    if empty:
        raise ValidationError(f"concepts at positions {empty[:10]} are empty strings; remove them.")
    counts = pd.Series(names).value_counts()
    dups = counts[counts > 1].index.tolist()
    if dups:
        raise ValidationError(
            f"the concept vocabulary has duplicates {dups[:10]}; each concept must appear once."
        )
    return names


# ---------------------------------------------------------------------------- directions
@register(CONCEPT_METHODS)
def softmax_projection(
    W: np.ndarray, images: np.ndarray | None, temperature: float, memory_budget: int
) -> np.ndarray:
    """BrainSCUBA: ``w' = Σ_j softmax_j(ŵ·ê_j / τ) ê_j`` for unit-norm ``ŵ`` and image embeddings."""
    if images is None:
        raise ValidationError(
            "method='softmax_projection' needs natural-image embeddings (image_embeddings=...): the "
            "voxel weights are projected onto them; or use method='weight'."
        )
    E = _unit(np.asarray(images, np.float32))
    out = np.empty_like(W)
    step = max(1, memory_budget // (8 * E.shape[0]))
    for sl in chunk_slices(W.shape[1], step):
        logits = (E @ W[:, sl]) / temperature  # (n_images, targets)
        logits -= logits.max(0)
        p = np.exp(logits)
        p /= p.sum(0)
        out[:, sl] = E.T @ p
    return _unit(out, axis=0)


@register(CONCEPT_METHODS)
def weight(
    W: np.ndarray, images: np.ndarray | None, temperature: float, memory_budget: int
) -> np.ndarray:
    """The voxel weights themselves (unit norm)."""
    return W


def rank_concepts(
    encoder: Any,
    concepts: ConceptSpace,
    image_embeddings: Any = None,
    *,
    method: str = "softmax_projection",
    temperature: float = BRAINSCUBA_TEMPERATURE,
    k: int = 5,
    targets: Sequence[str] | None = None,
    rois: Sequence[str] | None = None,
    roi_means: bool = False,
    memory_budget: int | str = "512MB",
) -> Result:
    """Rank the concepts of ``concepts`` for each target of a fitted encoder.

    Parameters
    ----------
    encoder : fitted encoder, LinearReadout or saved ``.npz``
        Fitted on features of the concept space (e.g. CLIP image embeddings, or the input of a
        classifier's last layer).
    concepts : ConceptSpace
        From :func:`embed_concepts` (text tower), :func:`classifier_concepts` or your own.
    image_embeddings : array (n_images, n_features), optional
        Natural-image embeddings for ``softmax_projection`` (BrainSCUBA used ~2M; any large,
        diverse set works).
    method : {"softmax_projection", "weight"}
    temperature : float
        Softmax temperature τ (BrainSCUBA: 1/150).
    k : int
        Concepts reported per target (at most the vocabulary size).

    Returns
    -------
    Result
        kind ``explain.concepts``: rows per target × rank with ``statistic="concept_similarity"``
        (cosine), ``concept`` and ``rank``; arrays ``scores`` (n_targets, n_concepts),
        ``top_concepts`` (n_targets, k) indices, ``directions`` (n_targets, n_features).

    Examples
    --------
    >>> space = ConceptSpace(["a", "b", "c"], np.eye(3))
    >>> r = LinearReadout(np.array([[0.1], [1.0], [0.2]]), np.zeros(1), ["v"])
    >>> rank_concepts(r, space, method="weight", k=2).table["concept"].tolist()
    ['b', 'c']
    """
    readout = as_readout(encoder)
    fn = lookup(CONCEPT_METHODS, method, "concept method")
    check_positive(temperature, "temperature")
    if not isinstance(concepts, ConceptSpace):
        raise ValidationError(
            f"concepts must be a ConceptSpace (embed_concepts / classifier_concepts); got {type(concepts).__name__}."
        )
    if concepts.n_features != readout.n_features:
        raise ShapeError(
            f"the concept embeddings have {concepts.n_features} features but the encoder was fitted "
            f"on {readout.n_features}; embed the concepts in the encoder's feature space "
            f"(encoder: {readout.model or '?'} / {readout.layer or '?'}; concepts: "
            f"{concepts.model or '?'} / {concepts.layer or '?'})."
        )
    if image_embeddings is not None:
        image_embeddings = check_array(image_embeddings, "image_embeddings", ndim=2)
        if image_embeddings.shape[1] != readout.n_features:
            raise ShapeError(
                f"image_embeddings has {image_embeddings.shape[1]} features; the encoder has {readout.n_features}."
            )
    if (
        isinstance(k, bool)
        or not isinstance(k, (int, np.integer))
        or not 1 <= k <= concepts.n_concepts
    ):
        raise ValidationError(
            f"k must be between 1 and the vocabulary size {concepts.n_concepts}; got {k!r}."
        )
    sub = readout.select(targets, rois) if (targets is not None or rois is not None) else readout
    aggregate = ["none"] * sub.n_targets
    if roi_means:
        means = (readout if rois is None else readout.select(rois=rois)).roi_means()
        sub = _stack(sub, means)
        aggregate += ["mean"] * means.n_targets
    W = _unit(np.asarray(sub.coef, np.float32), axis=0)
    # (features, targets)
    D = fn(W, image_embeddings, temperature, parse_memory_budget(memory_budget))
    scores = D.T @ _unit(concepts.embeddings).T  # (targets, concepts)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    names = np.asarray(concepts.names, dtype=object)
    rows = pd.DataFrame(
        {
            "target": np.repeat(sub.targets, k),
            "roi": np.repeat(sub.rois, k),
            "aggregate": np.repeat(aggregate, k),
            "value": np.take_along_axis(scores, top, 1).ravel().astype(np.float64),
            "concept": names[top.ravel()],
            "rank": np.tile(np.arange(1, k + 1), sub.n_targets),
        }
    )
    table = make_table(
        rows,
        analysis="explain",
        model=readout.model,
        layer=readout.layer,
        statistic="concept_similarity",
        method=method,
        split="all",
        n=concepts.n_concepts,
    )
    arrays = {
        "scores": scores,
        "top_concepts": top,
        "directions": D.T,
        "concepts": names.astype(str),
        "targets": sub.targets.astype(str),
    }
    params = {
        "method": method,
        "temperature": temperature,
        "k": k,
        "concept_source": concepts.source,
        "concept_model": concepts.model,
        "n_images": 0 if image_embeddings is None else len(image_embeddings),
    }
    return Result(table, "explain.concepts", arrays, params)


def _stack(a: LinearReadout, b: LinearReadout) -> LinearReadout:
    return LinearReadout(
        np.concatenate([a.coef, b.coef], 1),
        np.concatenate([a.intercept, b.intercept]),
        np.concatenate([a.targets, b.targets]),
        np.concatenate([a.rois, b.rois]),
        a.model,
        a.layer,
    )


def concept_prediction(
    image_embeddings: Any,
    responses: Responses | Any,
    concepts: ConceptSpace,
    *,
    k: int = 5,
    ranking: Result | None = None,
    targets: Sequence[str] | pd.DataFrame | None = None,
    stimulus_ids: Sequence[str] | None = None,
    layer: str | None = None,
) -> Result:
    """LaVCa-style check: how well each concept's embedding predicts each target's responses.

    The prediction of concept ``c`` for stimulus ``s`` is ``cos(x_s, t_c)``; the score is its
    Pearson correlation with the measured responses over stimuli (use held-out stimuli). All
    concept × target correlations come from one GEMM of standardised matrices.

    Parameters
    ----------
    image_embeddings : Activations or array (n_stimuli, n_features)
        Embeddings of the stimuli the responses were measured for. With :class:`Responses`,
        rows are matched to the responses by stimulus id (:func:`~neuroalign.core.align`):
        pass Activations (one layer, or ``layer``) or an array with ``stimulus_ids``.
    responses : Responses or array (n_stimuli, n_targets)
        An array has no ids: its rows are taken in the order of ``image_embeddings`` and its
        targets are ``t0, t1, ...`` unless ``targets`` names them.
    concepts : ConceptSpace
    k : int
        Best-predicting concepts reported per target.
    ranking : Result, optional
        A :func:`rank_concepts` result: then the rows report, for each target, the score of its
        ranked concepts (``rank`` as in the ranking) instead of the best-predicting ones.
    targets : sequence of str or DataFrame, optional
        Target ids of the responses' columns (default: those of Responses).
    stimulus_ids : sequence of str, optional
        The stimulus of each row of an array ``image_embeddings``.
    layer : str, optional
        The layer of Activations ``image_embeddings`` (default: its only layer).

    Returns
    -------
    Result
        kind ``explain.concept_prediction``; ``statistic="concept_prediction"``,
        ``scoring="pearson"``; arrays ``r`` (n_targets, n_concepts).
    """
    X, Y, targets = _paired(image_embeddings, responses, targets, stimulus_ids, layer)
    if X.shape[0] != Y.shape[0]:
        raise ShapeError(f"image_embeddings has {X.shape[0]} stimuli but responses {Y.shape[0]}.")
    if X.shape[1] != concepts.n_features:
        raise ShapeError(
            f"image_embeddings has {X.shape[1]} features but the concepts {concepts.n_features}; "
            "embed both with the same model."
        )
    ids, rois = target_labels(targets, None, Y.shape[1])
    pred = _unit(X.astype(np.float32)) @ _unit(concepts.embeddings).T  # (n, concepts)
    r = (_standardize(Y).T @ _standardize(pred)) / X.shape[0]  # (targets, concepts)
    names = np.asarray(concepts.names, dtype=object)
    if ranking is not None:
        lookup_t = {t: i for i, t in enumerate(ids)}
        lookup_c = {c: j for j, c in enumerate(concepts.names)}
        rk = ranking.table
        missing = sorted(set(rk["target"]) - set(lookup_t))
        if missing:
            if not isinstance(responses, Responses) and targets is None:
                raise ValidationError(
                    f"the ranking names targets {missing[:5]}, but responses is an unnamed array "
                    f"(its {len(ids)} columns are called t0, t1, ...); pass the Responses the "
                    "encoder was fitted on, or targets=[the target id of each column]."
                )
            raise ValidationError(
                f"the ranking has targets {missing[:5]} that are not in responses (which has "
                f"{ids[:5]}{' ...' if len(ids) > 5 else ''}); score the responses of the same "
                "targets the ranking's encoder was fitted on."
            )
        ti = rk["target"].map(lookup_t).to_numpy()
        ci = rk["concept"].map(lookup_c)
        if ci.isna().any():
            raise ValidationError("the ranking names concepts that are not in this vocabulary.")
        ci = ci.to_numpy(int)
        rows = pd.DataFrame(
            {
                "target": rk["target"].to_numpy(),
                "roi": rk["roi"].to_numpy(),
                "concept": rk["concept"].to_numpy(),
                "rank": rk["rank"].to_numpy(),
                "value": r[ti, ci].astype(np.float64),
            }
        )
    else:
        k = min(int(k), concepts.n_concepts)
        top = np.argsort(-r, axis=1, kind="stable")[:, :k]
        rows = pd.DataFrame(
            {
                "target": np.repeat(ids, k),
                "roi": np.repeat(rois if rois is not None else [""] * len(ids), k),
                "concept": names[top.ravel()],
                "rank": np.tile(np.arange(1, k + 1), len(ids)),
                "value": np.take_along_axis(r, top, 1).ravel().astype(np.float64),
            }
        )
    table = make_table(
        rows,
        analysis="explain",
        statistic="concept_prediction",
        scoring="pearson",
        method="lavca",
        split="all",
        n=X.shape[0],
        model=concepts.model,
    )
    return Result(
        table,
        "explain.concept_prediction",
        {"r": r, "concepts": names.astype(str)},
        {"k": k, "from_ranking": ranking is not None},
    )


def _paired(
    image_embeddings: Any,
    responses: Any,
    targets: Any,
    stimulus_ids: Sequence[str] | None,
    layer: str | None,
) -> tuple[np.ndarray, np.ndarray, Any]:
    """Embedding rows and response rows of the same stimuli (by id through ``align``
    whenever the responses carry ids), and the targets."""
    if isinstance(image_embeddings, Activations):
        names = list(image_embeddings.layer_names)
        if layer is None and len(names) != 1:
            raise ValidationError(f"image_embeddings holds layers {names}; pass layer=...")
        acts: Activations | None = image_embeddings.select_layers([layer or names[0]])
    else:
        X = check_array(image_embeddings, "image_embeddings", ndim=2)
        acts = (
            None
            if stimulus_ids is None
            else Activations("image_embeddings", check_ids(stimulus_ids), {"embeddings": X})
        )
    if isinstance(responses, Responses):
        if acts is None:
            raise ValidationError(
                "image_embeddings is an array without stimulus ids, so its rows cannot be "
                "matched with the responses' stimuli; pass stimulus_ids=[the stimulus of each "
                "row] or Activations."
            )
        acts, responses = align(acts, responses)
        if responses.is_timeseries:
            raise ValidationError(
                "concept_prediction needs (n_stimuli, n_targets) responses, not time series."
            )
        targets = responses.targets if targets is None else targets
        return acts[acts.layer_names[0]], np.asarray(responses.data), targets
    Y = check_array(responses, "responses", ndim=2)
    X = X if acts is None else acts[acts.layer_names[0]]
    return check_array(X, "image_embeddings", ndim=2), Y, targets


def _standardize(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    sd = a.std(0)
    return (a - a.mean(0)) / np.where(sd > 0, sd, 1.0)

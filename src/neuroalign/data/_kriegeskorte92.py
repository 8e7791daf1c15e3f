"""The 92-object image set with human-IT and monkey-IT RDMs (Kriegeskorte et al., 2008)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from ..core import RDMs, StimulusSet

__all__ = ["KRIEGESKORTE92_CITATION", "Kriegeskorte92", "load_kriegeskorte92"]

KRIEGESKORTE92_CITATION = (
    "Kriegeskorte N, Mur M, Ruff DA, Kiani R, Bodurka J, Esteky H, Tanaka K, Bandettini PA (2008). "
    "Matching categorical object representations in inferior temporal cortex of man and monkey. "
    "Neuron 60(6):1126-1141. doi:10.1016/j.neuron.2008.10.043. Monkey IT: Kiani R, Esteky H, "
    "Mirpour K, Tanaka K (2007), J Neurophysiol 97:4296-4309. Data files from the rsatoolbox "
    "repository (demos/92imageData, MIT licence)."
)


@dataclass(frozen=True)
class Kriegeskorte92:
    """The bundled 92-object data set.

    Attributes
    ----------
    stimuli : StimulusSet
        92 images (175 × 175 RGB) with ids ``k92_01`` ... ``k92_92`` and metadata: ``category``
        (6 categories), binary ``human``/``face``/``animal``/``natural`` and the 12 category vectors
        of the original file (``is_animate``, ``is_face``, ...).
    human_it : RDMs
        8 human-IT fMRI RDMs (4 subjects × 2 sessions, 1 − Pearson r over 316 voxels); descriptors
        ``subject`` and ``session``.
    monkey_it : RDMs
        The monkey-IT RDM from 674 neurons (Kiani et al. 2007) as in the paper's Figure 1.
    human_it_fig1 : RDMs
        The group human-IT RDM of the paper's Figure 1.
    models : RDMs
        8 model RDMs from the paper (animacy, FaceBodyManmadeNatobj, monkeyIT, EVA, HMAX, V1,
        Silhouette, RADON); descriptor ``model``.
    citation, licence : str
    """

    stimuli: StimulusSet
    human_it: RDMs
    monkey_it: RDMs
    human_it_fig1: RDMs
    models: RDMs
    citation: str
    licence: str


def load_kriegeskorte92() -> Kriegeskorte92:
    """Load the 92-object data set that ships with neuroalign (no download).

    Returns
    -------
    Kriegeskorte92

    Examples
    --------
    >>> d = load_kriegeskorte92()
    >>> len(d.stimuli), d.human_it.n_rdms, d.monkey_it.n_stimuli
    (92, 8, 92)
    """
    files = resources.files("neuroalign.data") / "_files"
    with resources.as_file(files / "kriegeskorte92.npz") as path, np.load(path) as z:
        ids = np.array([f"k92_{i + 1:02d}" for i in range(z["images"].shape[0])])
        meta = pd.DataFrame({"category": z["category"].astype(str)})
        for key in ("human", "face", "animal", "natural"):
            meta[key] = z[key].astype(bool)
        for j, label in enumerate(z["category_labels"].astype(str)):
            meta[f"is_{label}"] = z["category_vectors"][:, j].astype(bool)
        stimuli = StimulusSet(ids=ids, images=z["images"], metadata=meta, name="kriegeskorte92")
        hit = z["hit_rdms"]
        n_subj, n_sess = hit.shape[:2]
        subjects = [str(n).split("|")[1].strip() for n in z["hit_names"][:, 0]]
        human_it = RDMs(
            hit.reshape(n_subj * n_sess, -1),
            ids,
            pd.DataFrame(
                {
                    "subject": np.repeat(subjects, n_sess),
                    "session": np.tile(np.arange(1, n_sess + 1), n_subj),
                }
            ),
            metric="correlation",
            meta={"roi": "human IT", "n_voxels": 316},
        )
        fig1 = dict(zip(z["fig1_names"].astype(str), z["fig1_rdms"], strict=True))
        monkey_it = RDMs(
            fig1["mIT_674neurons"],
            ids,
            pd.DataFrame({"subject": ["monkey"]}),
            metric="correlation",
            meta={"roi": "monkey IT", "n_neurons": 674},
        )
        human_fig1 = RDMs(
            fig1["hITvisStim_316vx"],
            ids,
            pd.DataFrame({"subject": ["group"]}),
            metric="correlation",
            meta={"roi": "human IT"},
        )
        models = RDMs(z["model_rdms"], ids, pd.DataFrame({"model": z["model_names"].astype(str)}))
    licence = (files / "kriegeskorte92.LICENSE").read_text()
    return Kriegeskorte92(
        stimuli, human_it, monkey_it, human_fig1, models, KRIEGESKORTE92_CITATION, licence
    )

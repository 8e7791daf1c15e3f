"""Convert the 92-object data set (rsatoolbox demos/92imageData, MIT licence) to the compact
``src/neuroalign/data/_files/kriegeskorte92.npz`` that ships with neuroalign.

Run once by a maintainer: ``python scripts/vendor_kriegeskorte92.py ../shared/data/kriegeskorte92``.
Nothing is changed but the container: images stay uint8, RDMs stay float64, condensed in scipy
``squareform`` order (the diagonal of every source RDM is zero and each is symmetric; checked here).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import scipy.io as sio
from scipy.spatial.distance import squareform


def _s(x):
    return str(np.asarray(x).ravel()[0])


def main(src: Path, dst_dir: Path) -> None:
    sup = sio.loadmat(src / "Kriegeskorte_Neuron2008_supplementalData.mat")
    stim = sup["stimuli_92objs"][0]
    images = np.stack([s["image"] for s in stim]).astype(np.uint8)
    category = np.array([_s(s["category"]) for s in stim])
    flags = {
        k: np.array([int(np.asarray(s[k]).ravel()[0]) for s in stim], dtype=np.int8)
        for k in ("human", "face", "animal", "natural")
    }
    labels = np.array([_s(x) for x in sup["categoryLabels"][0]])
    vectors = sup["categoryVectors"].astype(np.int8)
    fig1 = sup["RDMs_mIT_hIT_fig1"][0]
    fig1_names = [_s(r["name"]) for r in fig1]
    fig1_rdms = np.stack([np.asarray(r["RDM"], dtype=np.float64).ravel() for r in fig1])

    brain = sio.loadmat(src / "92_brainRDMs.mat")["RDMs"][0]  # (4 subjects, 2 sessions)
    hit, names = [], []
    for subj in range(brain.shape[0]):
        row = []
        for sess in range(brain.shape[1]):
            m = np.asarray(brain[subj, sess]["RDM"], dtype=np.float64)
            assert np.allclose(m, m.T) and np.allclose(np.diag(m), 0)
            row.append(squareform(m, checks=False))
            names.append(_s(brain[subj, sess]["name"]))
        hit.append(row)
    models = sio.loadmat(src / "92_modelRDMs.mat")["Models"][0]
    model_names = np.array([_s(m["name"]) for m in models])
    model_rdms = []
    for m in models:
        sq = np.asarray(m["RDM"], dtype=np.float64)
        sq = (sq + sq.T) / 2
        np.fill_diagonal(sq, 0)
        model_rdms.append(squareform(sq, checks=False))

    dst_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        dst_dir / "kriegeskorte92.npz",
        images=images,
        category=category,
        category_labels=labels,
        category_vectors=vectors,
        fig1_names=np.array(fig1_names),
        fig1_rdms=fig1_rdms,
        hit_rdms=np.array(hit),
        hit_names=np.array(names).reshape(len(hit), -1),
        model_names=model_names,
        model_rdms=np.stack(model_rdms),
        **flags,
    )
    shutil.copy(src / "LICENSE", dst_dir / "kriegeskorte92.LICENSE")
    print(
        "wrote",
        dst_dir / "kriegeskorte92.npz",
        (dst_dir / "kriegeskorte92.npz").stat().st_size,
        "bytes",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parents[1] / "src/neuroalign/data/_files")

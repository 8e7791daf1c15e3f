import numpy as np
import pytest

from neuroalign.data import load_kriegeskorte92


def test_bundled_dataset_shapes_and_metadata():
    d = load_kriegeskorte92()
    assert len(d.stimuli) == 92
    assert d.stimuli.images.shape == (92, 175, 175, 3)
    assert d.human_it.n_rdms == 8
    assert d.human_it.descriptors["subject"].nunique() == 4
    assert d.models.descriptors["model"].tolist()[:2] == ["animacy", "FaceBodyManmadeNatobj"]
    assert d.stimuli.metadata["animal"].sum() + (~d.stimuli.metadata["animal"]).sum() == 92
    assert "MIT License" in d.licence
    assert "Neuron" in d.citation
    # human-IT RDMs agree with each other far above chance (the data are real, not noise)
    from neuroalign.compare import compare_rdms

    sim = compare_rdms(d.human_it, d.human_it, "spearman")
    assert sim[np.triu_indices(8, 1)].mean() > 0.1


@pytest.mark.realdata
def test_vendored_file_equals_the_original(shared_data):
    sio = pytest.importorskip("scipy.io")
    from scipy.spatial.distance import squareform

    src = shared_data / "kriegeskorte92"
    d = load_kriegeskorte92()
    brain = sio.loadmat(src / "92_brainRDMs.mat")["RDMs"][0]
    np.testing.assert_array_equal(
        d.human_it.square()[3], brain[1, 1]["RDM"]
    )  # subject 2, session 2
    sup = sio.loadmat(src / "Kriegeskorte_Neuron2008_supplementalData.mat")
    np.testing.assert_array_equal(d.stimuli.images[17], sup["stimuli_92objs"][0, 17]["image"])
    mit = np.asarray(sup["RDMs_mIT_hIT_fig1"][0, 0]["RDM"], dtype=float).ravel()
    np.testing.assert_array_equal(d.monkey_it.dissimilarities[0], mit)
    assert squareform(mit).shape == (92, 92)

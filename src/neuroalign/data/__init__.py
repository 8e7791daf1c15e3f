"""Brain data and stimuli: readers for real formats (``load_*``), bundled real data, fetchers for
public datasets (``fetch_*``), simulators (``make_*``) and noise ceilings.

Every reader returns ``(StimulusSet, Responses)``: trials of one stimulus are repetitions, targets
carry ROI / subject / coordinates, and anything excluded is listed in ``Responses.meta["exclusions"]``.
The RDM noise ceiling (lower/upper bounds) lives with the RSA engine:
:func:`neuroalign.compare.rdm_noise_ceiling`.
"""

from ._assemble import trials_to_responses
from ._bundled import (
    EEGLAB_CITATION,
    FACE_HOUSE_CITATION,
    HAXBY2001_CITATION,
    EEGLABSample,
    FaceHouseImages,
    Haxby2001Slice,
    load_eeglab_sample,
    load_face_house_images,
    load_haxby2001_slice,
)
from ._ceiling import (
    compute_ncsnr,
    compute_noise_ceiling,
    ncsnr_noise_ceiling,
    split_half_reliability,
)
from ._describe import describe_data, summarize_responses
from ._fetch import DATASETS, DatasetFile, RemoteDataset, fetch_dataset, get_data_dir, list_datasets
from ._fmri import estimate_single_trial_betas, load_fmri, load_surface
from ._generic import ArraySchema, load_array_file
from ._hdf5_images import HDF5Image, hdf5_images
from ._kriegeskorte92 import KRIEGESKORTE92_CITATION, Kriegeskorte92, load_kriegeskorte92
from ._meeg import load_meeg, load_meeg_bids, read_meeg
from ._nsd import NSD_STIMULI, load_nsd, nsd_ncsnr_ceiling, nsd_trial_ids
from ._pickled_npy import read_pickled_npy
from ._simulate import (
    SHAPES,
    SimulationTruth,
    compute_image_statistics,
    make_responses,
    make_shape_images,
)
from ._simulate_concepts import (
    ConceptVoxels,
    FunctionalTypes,
    make_concept_voxels,
    make_functional_types,
)
from ._simulate_decoding import DecodingProblem, SimulatedEpochs, make_decoding_problem, make_epochs
from ._simulate_readouts import (
    ReadoutSimulation,
    make_spatial_rf_targets,
    make_token_targets,
    make_voxel_family,
)
from ._simulate_story import StoryExperiment, make_story_experiment
from ._speech import (
    GRASSHOPPER_CITATION,
    NAPLIB_SPEECH_CITATION,
    Grasshopper,
    SpeechSample,
    load_grasshopper,
    load_speech_sample,
)
from ._spikes import bin_spikes, load_nwb_spikes
from ._things import (
    THINGS_FMRI_ROIS,
    load_things_eeg2,
    load_things_fmri,
    things_fmri_noise_ceiling,
)

__all__ = [
    "DATASETS",
    "EEGLAB_CITATION",
    "FACE_HOUSE_CITATION",
    "GRASSHOPPER_CITATION",
    "HAXBY2001_CITATION",
    "KRIEGESKORTE92_CITATION",
    "NAPLIB_SPEECH_CITATION",
    "NSD_STIMULI",
    "SHAPES",
    "ArraySchema",
    "ConceptVoxels",
    "DatasetFile",
    "EEGLABSample",
    "FaceHouseImages",
    "FunctionalTypes",
    "Grasshopper",
    "HDF5Image",
    "Haxby2001Slice",
    "Kriegeskorte92",
    "ReadoutSimulation",
    "RemoteDataset",
    "SimulationTruth",
    "SpeechSample",
    "StoryExperiment",
    "bin_spikes",
    "compute_image_statistics",
    "compute_ncsnr",
    "compute_noise_ceiling",
    "describe_data",
    "estimate_single_trial_betas",
    "fetch_dataset",
    "get_data_dir",
    "hdf5_images",
    "list_datasets",
    "load_array_file",
    "load_eeglab_sample",
    "load_face_house_images",
    "load_fmri",
    "load_grasshopper",
    "load_haxby2001_slice",
    "load_kriegeskorte92",
    "load_meeg",
    "load_meeg_bids",
    "load_nsd",
    "load_nwb_spikes",
    "load_speech_sample",
    "load_surface",
    "make_concept_voxels",
    "make_functional_types",
    "make_responses",
    "make_shape_images",
    "make_spatial_rf_targets",
    "make_story_experiment",
    "make_token_targets",
    "make_voxel_family",
    "ncsnr_noise_ceiling",
    "nsd_ncsnr_ceiling",
    "nsd_trial_ids",
    "read_meeg",
    "split_half_reliability",
    "summarize_responses",
    "trials_to_responses",
]
__all__ += ["DecodingProblem", "SimulatedEpochs", "make_decoding_problem", "make_epochs"]
__all__ += [
    "THINGS_FMRI_ROIS",
    "load_things_eeg2",
    "load_things_fmri",
    "read_pickled_npy",
    "things_fmri_noise_ceiling",
]

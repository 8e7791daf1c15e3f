"""Convert three real recordings from ../shared/data to the compact files that ship with neuroalign
in ``src/neuroalign/data/_files/``:

- ``haxby2001_slice.npz`` — PyMVPA's Haxby et al. (2001) slice: the 530 in-mask voxels of all 1452
  volumes, stored unchanged as int16 (the original dtype), with the mask, affine, labels and runs.
- ``eeglab_sample.npz`` — EEGLAB's 80-epoch sample (32 channels, 128 Hz, −1 to 2 s), quantised per
  channel to int16 (value = int16 × scale[channel], max error scale/2 ≈ 0.001 µV, far below the
  EEG noise), with times, channel names/positions and the per-epoch events (square position, RT).
- ``face_house_images.npz`` — the 96 face/house photographs, downsampled 400→256 px and stored as
  grayscale JPEG bytes (quality 92), with category and identity labels.

Run by a maintainer: ``python scripts/vendor_brain_data.py ../shared/data``.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import numpy as np

DST = Path(__file__).resolve().parents[1] / "src/neuroalign/data/_files"
HAXBY_LABELS = [
    "rest",
    "face",
    "house",
    "shoe",
    "cat",
    "scissors",
    "scrambledpix",
    "bottle",
    "chair",
]
FACE_SIZE = 256


def haxby(src: Path) -> None:
    import nibabel as nib

    bold = nib.load(src / "bold.nii.gz")
    mask_img = nib.load(src / "mask.nii.gz")
    mask = np.asanyarray(mask_img.dataobj) > 0
    data = np.asanyarray(bold.dataobj)  # int16, no scaling in the header
    assert data.dtype == np.int16 and bold.dataobj.slope in (1.0, None)
    attrs = np.loadtxt(src / "attributes.txt", dtype=int)
    np.savez_compressed(
        DST / "haxby2001_slice.npz",
        bold=data[mask].T.copy(),  # (n_volumes, n_voxels), C order of the mask
        mask=mask,
        affine=bold.affine,
        labels=attrs[:, 0].astype(np.int8),
        runs=attrs[:, 1].astype(np.int8),
        label_names=np.array(HAXBY_LABELS),
        tr=np.float32(bold.header.get_zooms()[3]),
    )
    licence = (
        "Data: Haxby et al. (2001), (c) the original authors, released under the Creative Commons "
        "Attribution-Share Alike 3.0 licence (https://creativecommons.org/licenses/by-sa/3.0/); see "
        "http://www.pymvpa.org/datadb/haxby2001.html. Redistributed in converted form (masked "
        "voxels only, values unchanged) by neuroalign under the same licence.\n\n"
        "Files taken from the PyMVPA repository (mvpa2/data), whose licence follows:\n\n"
    )
    (DST / "haxby2001_slice.LICENSE").write_text(licence + (src / "COPYING").read_text())


def _num(x: object) -> float:
    arr = np.asarray(x, dtype=float).ravel()
    return float(arr[0]) if arr.size else float("nan")  # EOG channels have no position


def eeglab(src: Path) -> None:
    import scipy.io as sio

    m = sio.loadmat(src / "eeglab_data_epochs_ica.set", squeeze_me=True, struct_as_record=False)
    eeg = m["EEG"]
    n_ch, n_t, n_ep = int(eeg.nbchan), int(eeg.pnts), int(eeg.trials)
    raw = np.fromfile(src / str(eeg.datfile), dtype="<f4").reshape(n_ep, n_t, n_ch, order="C")
    data = np.transpose(raw, (0, 2, 1)).astype(np.float64)  # (epochs, channels, times), µV
    # .fdt is channel-fastest Fortran order (n_ch, n_t * n_ep); check against the reshape above
    fortran = np.fromfile(src / str(eeg.datfile), dtype="<f4").reshape(n_ch, n_t * n_ep, order="F")
    np.testing.assert_array_equal(fortran[:, :n_t], data[0])
    scale = np.abs(data).max(axis=(0, 2)) / 32767.0
    q = np.rint(data / scale[None, :, None]).astype(np.int16)
    positions, rts, types = [], [], []
    for ep in eeg.epoch:
        lat = np.atleast_1d(ep.eventlatency).astype(float)
        typ = [str(t) for t in np.atleast_1d(ep.eventtype)]
        pos = np.atleast_1d(ep.eventposition)
        zero = int(np.argmin(np.abs(lat)))
        positions.append(int(pos[zero]))
        types.append(typ[zero])
        after = [la for la, t in zip(lat, typ, strict=True) if t == "rt" and la > 0]
        rts.append(after[0] / 1000.0 if after else np.nan)
    locs = eeg.chanlocs
    np.savez_compressed(
        DST / "eeglab_sample.npz",
        data=q,
        scale=scale,
        times=np.asarray(eeg.times, dtype=float) / 1000.0,
        sfreq=np.float64(eeg.srate),
        channels=np.array([str(c.labels) for c in locs]),
        ch_xyz=np.array([[_num(c.X), _num(c.Y), _num(c.Z)] for c in locs]),
        event_type=np.array(types),
        position=np.array(positions, dtype=np.int8),
        rt=np.array(rts),
    )
    shutil.copyfile(src / "LICENSE", DST / "eeglab_sample.LICENSE")


def face_house(src: Path) -> None:
    from PIL import Image

    blobs, category, identity, names = [], [], [], []
    for cat, folder in (("face", "faces"), ("house", "houses")):
        for f in sorted((src / folder).glob("*.jpg")):
            with Image.open(f) as im:
                small = im.convert("L").resize((FACE_SIZE, FACE_SIZE), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            small.save(buf, format="JPEG", quality=92)
            blobs.append(np.frombuffer(buf.getvalue(), dtype=np.uint8))
            category.append(cat)
            stem = f.stem  # "Don_3" or "house3.4"
            identity.append(stem.split("_")[0] if cat == "face" else stem.split(".")[0])
            names.append(f.name)
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    np.savez(
        DST / "face_house_images.npz",
        jpeg=np.concatenate(blobs),
        offsets=offsets,
        category=np.array(category),
        identity=np.array(identity),
        filename=np.array(names),
    )
    shutil.copyfile(src / "LICENSE.txt", DST / "face_house_images.LICENSE")


def main(shared: Path) -> None:
    DST.mkdir(parents=True, exist_ok=True)
    haxby(shared / "haxby2001_slice")
    eeglab(shared / "eeglab_sample")
    face_house(shared / "face_house_images")
    for f in ("haxby2001_slice.npz", "eeglab_sample.npz", "face_house_images.npz"):
        print("wrote", DST / f, (DST / f).stat().st_size, "bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

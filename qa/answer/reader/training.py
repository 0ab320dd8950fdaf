"""Training the reader on CPU: e5's lower layers run once per window and their output is cached
(float16 shards, resumable); only the top layers and the span projection are trained, with a
checkpoint after every epoch (resumable)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qa.answer.reader.network import SpanHead
from qa.answer.reader.reader import batch_tensors
from qa.answer.reader.training_data import TrainingWindow

SHARD = 512
_BATCH_STATES = 32

Progress = Callable[[int], None]  # called with how many items were just done


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    lr: float
    batch_size: int
    seed: int
    warmup: float = 0.06
    weight_decay: float = 0.01


def write_windows(windows: list[TrainingWindow], work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    rows = [{"ids": w.ids, "label": list(w.label), "src": w.source} for w in windows]
    (work / "windows.json").write_text(json.dumps(rows), encoding="utf-8")


def read_windows(work: Path) -> list[TrainingWindow]:
    rows = json.loads((work / "windows.json").read_text(encoding="utf-8"))
    return [TrainingWindow(r["ids"], tuple(r["label"]), r["src"]) for r in rows]


@torch.inference_mode()
def cache_states(
    windows: list[TrainingWindow],
    lower: nn.Module,
    pad: int,
    max_len: int,
    work: Path,
    progress: Progress,
) -> None:
    """The frozen layers' output for every window, in shards; shards already written are kept."""
    hidden = lower.config.hidden_size
    for first in range(0, len(windows), SHARD):
        path = work / f"states{first // SHARD:05d}.npy"
        part = windows[first : first + SHARD]
        if path.exists():
            progress(len(part))
            continue
        out = np.zeros((len(part), max_len, hidden), np.float16)
        for b in range(0, len(part), _BATCH_STATES):
            batch = part[b : b + _BATCH_STATES]
            ids, mask = batch_tensors([w.ids for w in batch], pad)
            states = lower(input_ids=ids, attention_mask=mask).last_hidden_state
            out[b : b + len(batch), : ids.shape[1]] = states.numpy().astype(np.float16)
            progress(len(batch))
        tmp = path.with_suffix(".partial.npy")
        np.save(tmp, out)
        tmp.replace(path)


def load_states(work: Path, count: int) -> np.ndarray:
    shards = [work / f"states{k:05d}.npy" for k in range(math.ceil(count / SHARD))]
    return np.concatenate([np.load(s, mmap_mode="r") for s in shards])


def answer_mask(ids: list[int], max_len: int, eos: int) -> np.ndarray:
    """1 where a start or end may point: position 0 (no answer) and the window's tokens."""
    mask = np.zeros(max_len, np.float32)
    mask[0] = 1
    first = next(i for i in range(1, len(ids)) if ids[i] == ids[i - 1] == eos) + 1
    mask[first : len(ids) - 1] = 1
    return mask


def train(
    head: SpanHead,
    windows: list[TrainingWindow],
    states: np.ndarray,
    config: TrainConfig,
    eos: int,
    work: Path,
    progress: Progress,
) -> None:
    """Train ``head`` in place; ``work/last.pt`` after every epoch makes a stopped run resume."""
    torch.manual_seed(config.seed)
    n, max_len = states.shape[0], states.shape[1]
    masks = np.stack([answer_mask(w.ids, max_len, eos) for w in windows])
    lengths = np.array([len(w.ids) for w in windows])
    labels = np.array([w.label for w in windows], np.int64)
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(n / config.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, s / (config.warmup * steps)) * max(0.0, (steps - s) / steps)
    )
    done = _resume(work / "last.pt", head, opt, sched)
    rng = np.random.default_rng(config.seed)
    head.train()
    for epoch in range(config.epochs):
        order = rng.permutation(n)  # drawn for every epoch, so a resumed run sees the same order
        if epoch < done:
            continue
        for b in range(0, n, config.batch_size):
            idx = np.sort(order[b : b + config.batch_size])
            length = int(lengths[idx].max())
            mask = torch.from_numpy(
                (np.arange(length)[None, :] < lengths[idx, None]).astype(np.int64)
            )
            start, end = head(torch.from_numpy(np.asarray(states[idx, :length], np.float32)), mask)
            allowed = torch.from_numpy(masks[idx, :length]) == 0
            y = torch.from_numpy(labels[idx])
            loss = (
                nn.functional.cross_entropy(start.masked_fill(allowed, -1e4), y[:, 0])
                + nn.functional.cross_entropy(end.masked_fill(allowed, -1e4), y[:, 1])
            ) / 2
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            opt.step()
            sched.step()
            progress(len(idx))
        state = {"head": head.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}
        torch.save({**state, "epoch": epoch}, work / "last.pt")
    head.eval()


def _resume(path: Path, head: SpanHead, opt: torch.optim.Optimizer, sched: object) -> int:
    """Epochs already done by an earlier run of the same training."""
    if not path.exists():
        return 0
    state = torch.load(path)
    head.load_state_dict(state["head"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])  # type: ignore[attr-defined]
    return int(state["epoch"]) + 1

"""The model: a small LayoutLM-style character encoder (transformers), a masked-LM head for pretraining."""
from __future__ import annotations

import torch
from torch import nn
from transformers import LayoutLMConfig, LayoutLMModel


def make_config(arch: dict, vocab_size: int, **extra) -> LayoutLMConfig:
    return LayoutLMConfig(
        vocab_size=vocab_size,
        hidden_size=arch["hidden_size"],
        num_hidden_layers=arch["num_hidden_layers"],
        num_attention_heads=arch["num_attention_heads"],
        intermediate_size=arch["intermediate_size"],
        max_position_embeddings=arch["max_len"],
        max_2d_position_embeddings=1024,
        type_vocab_size=arch["type_vocab_size"],
        pad_token_id=0,
        **extra,
    )


class MaskedLM(nn.Module):
    """Encoder + an output layer tied to the character embeddings, evaluated on masked positions only."""

    def __init__(self, config: LayoutLMConfig):
        super().__init__()
        self.encoder = LayoutLMModel(config)
        self.transform = nn.Sequential(nn.Linear(config.hidden_size, config.hidden_size), nn.GELU(),
                                       nn.LayerNorm(config.hidden_size))
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, input_ids, bbox, token_type_ids, attention_mask, labels):
        hidden = self.encoder(input_ids=input_ids, bbox=bbox, token_type_ids=token_type_ids,
                              attention_mask=attention_mask).last_hidden_state
        sel = labels != -100
        h = self.transform(hidden[sel])
        logits = h @ self.encoder.embeddings.word_embeddings.weight.T + self.bias
        return nn.functional.cross_entropy(logits, labels[sel])

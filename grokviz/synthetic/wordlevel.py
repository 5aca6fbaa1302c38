"""A word-level tokenizer built from a vocabulary list, saved like any Hugging Face tokenizer.

The demo's equations ("pow3 12 7 = 7") and the tests' tiny models need a real tokenizer that
`AutoTokenizer.from_pretrained` reloads from a checkpoint folder, without downloading one.
Tokens are split on whitespace; unknown words map to `<unk>`. Nothing here trains a model.
"""

from __future__ import annotations

from collections.abc import Sequence

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)


def build_tokenizer(words: Sequence[str]):
    """A `PreTrainedTokenizerFast` whose vocabulary is the special tokens then `words`.

    >>> tok = build_tokenizer(["1", "2", "+", "="])
    >>> tok("1 + 2 =")["input_ids"]
    [4, 6, 5, 7]
    >>> tok.pad_token_id, len(tok)
    (0, 8)
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for word in (*SPECIAL_TOKENS, *words):
        vocab.setdefault(word, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, unk_token=UNK, bos_token=BOS, eos_token=EOS
    )

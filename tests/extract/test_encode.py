"""Loss tokens end exactly where the prompt ends, whatever the tokenizer adds (METHOD 1-2).

Three tokenizer families, each trained offline on a tiny corpus and wrapped as transformers
tokenizers with special tokens around the text: byte-level BPE (GPT-2/OLMo style, with BOS/EOS),
WordPiece (BERT style, [CLS] ... [SEP]) and SentencePiece Unigram (Llama style, <s> ...).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from grokviz.extract.encode import encode_samples, route_positions

TEXT, PROMPT = "what is two plus two ? four", "what is two plus two ?"
CORPUS = [TEXT, "what is one plus one ? two", "four is two plus two", "plus what ? one two four"] * 20


def bpe(tmp_path):
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=80, special_tokens=["<unk>", "<s>", "</s>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[
        ("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def wordpiece(tmp_path):
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "?", "what", "is", "one", "two", "plus", "fo", "##ur"]
    tok = Tokenizer(models.WordPiece(vocab={w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                                   pad_token="[PAD]")


def sentencepiece(tmp_path):
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(CORPUS, trainers.UnigramTrainer(vocab_size=40, special_tokens=["<unk>", "<s>", "</s>"],
                                                            unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", unk_token="<unk>")


@pytest.mark.parametrize("build", [bpe, wordpiece, sentencepiece], ids=["bpe", "wordpiece", "sentencepiece"])
def test_the_loss_falls_on_the_completion_only(build, tmp_path):
    tokenizer = build(tmp_path)
    frame = pd.DataFrame({"sample_id": ["q", "plain"], "text": [TEXT, TEXT], "prompt": [PROMPT, None]})
    encoded = encode_samples(frame, tokenizer, max_length=64)
    ids, targets = encoded.ids[0], encoded.targets[0]
    special = set(tokenizer.all_special_ids)
    assert ids[0] in special or tokenizer.convert_ids_to_tokens(int(ids[0])) != ""  # it adds special tokens
    assert tokenizer.decode(ids[targets]).strip() == "four"  # not [SEP], not </s>, nothing of the prompt
    assert not any(int(i) in special for i in ids[targets])
    predicting = route_positions(targets, "predicting")
    assert predicting[:-1].tolist() == targets[1:].tolist()  # each position that predicts a loss token
    assert tokenizer.decode(ids[np.argmax(predicting)]).strip() == "?"  # the first: the prompt's last token
    plain = encoded.targets[1]
    assert plain.sum() == len(encoded.ids[1]) - 1 and not plain[0]  # plain text: every token but the first


def test_a_token_straddling_the_boundary_carries_loss():
    from grokviz.extract.encode import prompt_targets

    # "ab|cd" tokenised as "a", "bc", "d" with the prompt "ab": "bc" holds a completion character
    assert prompt_targets([(0, 1), (1, 3), (3, 4)], 2).tolist() == [False, True, True]


def test_samples_with_a_prompt_need_character_offsets(tmp_path):
    from grokviz.errors import InputError

    class Slow:
        is_fast = False

        def __call__(self, texts, **kwargs):
            return {"input_ids": [[1, 2, 3] for _ in texts]}

    frame = pd.DataFrame({"sample_id": ["q"], "text": [TEXT], "prompt": [PROMPT]})
    with pytest.raises(InputError, match="fast tokenizer"):
        encode_samples(frame, Slow(), max_length=8)
    assert encode_samples(frame.assign(prompt=None), Slow(), 8).targets[0].tolist() == [False, True, True]
    assert np.array_equal(route_positions(np.array([False, True, True]), "auto", prompted=False), [True] * 3)

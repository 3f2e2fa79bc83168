"""The token classifier at run time: a document -> a label for every cell and heading, labelled spans in text.

The model (models/tagger/: ONNX graph or transformers weights, vocabulary, BIO tags, label set) is read from
disk only; nothing is downloaded. Engines: ``onnx`` (onnxruntime, the default: no torch needed at run time)
and ``torch`` (transformers; training and the parity test).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from service import versioned
from service.document import Document
from service.normalize import label_key
from service.options import ClassifierOptions
from service.resources import MODELS_DIR
from service.understand.cues import NUMBER as _NUMBER
from service.understand.encode import SegmentKey, Vocab, Windows, segments, stream, windows
from service.understand.labels import FACT_KINDS, STRUCTURE_KINDS, load_label_set
from service.understand.lexicon import can_print, surfaces

DEFAULT_MODEL = MODELS_DIR / "tagger"


class ModelMissing(RuntimeError):
    pass


class SegmentPrediction(BaseModel):
    """The label of a whole cell or text block: the mean of its characters' label probabilities; for a table cell
    constrained by what its text can print (see :meth:`Tagger._constrain`)."""

    label: str  # a label id, or "O" for none
    confidence: float
    top: list[tuple[str, float]]  # best labels first (O included)
    model_label: str | None = None  # the network's own label where the constraint changed it


class SpanPrediction(BaseModel):
    """A labelled run of characters inside a text block or cell (a fact number, a heading, metadata)."""

    key: SegmentKey
    start: int
    end: int
    label: str
    text: str
    confidence: float


class NumberPrediction(BaseModel):
    """What the classifier makes of one whole number of a text block: probability of each fact label (and O)."""

    key: SegmentKey
    start: int
    end: int
    text: str
    probs: dict[str, float]  # fact labels with probability >= 0.01, and "O"

    def prob(self, label: str) -> float:
        return self.probs.get(label, 0.0)


class Tagging(BaseModel):
    segments: dict[SegmentKey, SegmentPrediction]
    spans: list[SpanPrediction]
    numbers: list[NumberPrediction] = []  # every whole number of a text block

    def label_of(self, key: SegmentKey) -> SegmentPrediction | None:
        return self.segments.get(tuple(key))


# ONNX Runtime engines: the int8 weights (dynamic quantisation of the fp32 export; the same labels on every dev
# rendering, tests/understand/test_classifier.py) and the fp32 export (the same logits as torch)
ONNX_FILES = {"onnx-int8": "model.int8.onnx", "onnx": "model.onnx"}
BATCH_WINDOWS = 16  # windows the network reads at once (a long text: memory of 16 windows, not of all)
PLAIN_MIN_CHARS = 41  # longer than any heading the assembler asks the classifier about
PLAIN_FROM_BLOCK = 12  # metadata (agency, year, date) is looked for in the blocks before this one
_DIGIT = re.compile(r"\d")
# numbers that are dates or document-number years (2021年, 3月15日, 〔2021〕): never a count, so never a fact
_DATE_NUMBER = re.compile(r"\d+(?=\s*[年月日])|(?<=[〔\[［(（])\s*\d{4}\s*(?=[〕\]］)）])")
_BARE_NUMBER = re.compile(r"^\s*[+-]?\d[\d,]*(?:\.\d+)?\s*$")  # a cell that is only a number (not 5. or 5、)
MIN_CONSTRAIN_KEY = 2  # label-key characters a cell needs before its text constrains its label


def _plain(seg) -> bool:
    """A paragraph no use of the classifier needs: past the title lines, longer than a heading, without a digit
    other than those of dates (so without a fact, a table label or a heading)."""
    return (
        seg.kind == "text"
        and seg.key[0] >= PLAIN_FROM_BLOCK
        and len(seg.text) >= PLAIN_MIN_CHARS
        and not _DIGIT.search(_DATE_NUMBER.sub("", seg.text))
    )


class Tagger:
    """``skip_plain``: leave out the paragraphs nothing downstream reads (see :func:`_plain`); they cost about a
    third of the tokens of a narrative-heavy report."""

    def __init__(
        self,
        model_dir: str | Path = DEFAULT_MODEL,
        engine: str = "onnx-int8",
        threads: int = 1,
        skip_plain: bool = True,
    ):
        self.skip_plain = skip_plain
        self.dir = Path(model_dir)
        if not (self.dir / "tags.json").exists():
            raise ModelMissing(f"no classifier model in {self.dir} (run `make train`)")
        self.meta = json.loads((self.dir / "xxgk.json").read_text(encoding="utf-8"))
        self.tags: list[str] = json.loads((self.dir / "tags.json").read_text(encoding="utf-8"))
        self.vocab = Vocab.load(self.dir / "vocab.txt")
        self.labels = ["O"] + [t[2:] for t in self.tags[1::2]]
        kinds = {lab.id: lab.kind for lab in load_label_set(self.dir / "labels.yaml").labels}
        self._fact = np.array([kinds.get(lab) in FACT_KINDS for lab in self.labels])
        printed = surfaces()
        # table labels with known printed forms, by table (t2, t3, t4): what a cell's text can constrain
        self._printable: dict[str, list[int]] = {}
        for i, lab in enumerate(self.labels):
            if kinds.get(lab) in STRUCTURE_KINDS and lab in printed and not lab.startswith("sec."):
                self._printable.setdefault(lab.split(".")[0], []).append(i)
        self._val = self.labels.index("val")
        self.engine = engine
        if engine in ONNX_FILES:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            self._session = ort.InferenceSession(
                str(self.dir / ONNX_FILES[engine]), opts, providers=["CPUExecutionProvider"]
            )
        elif engine == "torch":
            import torch
            from transformers import LayoutLMForTokenClassification

            torch.set_num_threads(threads)
            self._torch = torch
            self._model = LayoutLMForTokenClassification.from_pretrained(self.dir).eval()
        else:
            raise ValueError(f"unknown classifier engine {engine!r} ({' | '.join(ONNX_FILES)} | torch)")

    def logits(self, input_ids, bbox, token_type_ids, attention_mask) -> np.ndarray:
        if self.engine in ONNX_FILES:
            return self._session.run(
                ["logits"],
                {
                    "input_ids": input_ids,
                    "bbox": bbox,
                    "attention_mask": attention_mask,
                    "token_type_ids": token_type_ids,
                },
            )[0]
        torch = self._torch
        with torch.inference_mode():
            out = self._model(
                input_ids=torch.from_numpy(input_ids),
                bbox=torch.from_numpy(bbox),
                token_type_ids=torch.from_numpy(token_type_ids),
                attention_mask=torch.from_numpy(attention_mask),
            )
        return out.logits.numpy()

    def tag(self, doc: Document) -> Tagging:
        segs = [s for s in segments(doc) if not (self.skip_plain and _plain(s))]
        st = stream(segs, self.vocab)
        if len(st.ids) == 0:
            return Tagging(segments={}, spans=[])
        w = windows(st, self.vocab, self.meta["max_len"], self.meta["overlap"])
        tok = self._token_probs(w)  # [T, n_tags]
        # label probabilities per token: O, then B+I of each label
        lab = np.concatenate([tok[:, :1], tok[:, 1::2] + tok[:, 2::2]], axis=1)
        seg_of = np.array([s for s, _ in st.where])
        out_segments: dict[SegmentKey, SegmentPrediction] = {}
        spans: list[SpanPrediction] = []
        numbers: list[NumberPrediction] = []
        for s, seg in enumerate(segs):
            rows = np.nonzero(seg_of == s)[0]
            if len(rows) == 0:
                continue
            mean = lab[rows].mean(axis=0)
            model_best = int(mean.argmax())
            if seg.kind == "cell":
                mean = self._constrain(seg.text, mean)
            best = np.argsort(-mean)[:3]
            out_segments[seg.key] = SegmentPrediction(
                label=self.labels[best[0]],
                confidence=float(mean[best[0]]),
                top=[(self.labels[i], float(mean[i])) for i in best],
                model_label=self.labels[model_best] if best[0] != model_best else None,
            )
            spans.extend(self._spans(seg.key, seg.text, tok[rows], lab[rows]))
            if len(seg.key) == 1:
                numbers.extend(self._numbers(seg.key, seg.text, lab[rows]))
        return Tagging(segments=out_segments, spans=spans, numbers=numbers)

    def _token_probs(self, w: Windows) -> np.ndarray:
        """Each token's tag probabilities, from the window that owns it; the network reads BATCH_WINDOWS windows
        at a time and only their tokens' rows are kept, so a long text never holds every window's logits at once
        (a 1.3 MB text: 2.2 GB before)."""
        owner = w.owner[:, 0]  # windows own tokens in stream order: non-decreasing
        out: np.ndarray | None = None
        for k in range(0, len(w.input_ids), BATCH_WINDOWS):
            logits = self.logits(
                w.input_ids[k : k + BATCH_WINDOWS],
                w.bbox[k : k + BATCH_WINDOWS],
                w.token_type_ids[k : k + BATCH_WINDOWS],
                w.attention_mask[k : k + BATCH_WINDOWS],
            )
            if out is None:
                out = np.empty((len(owner), logits.shape[-1]), np.float32)
            a, b = np.searchsorted(owner, [k, k + BATCH_WINDOWS])
            x = logits[owner[a:b] - k, w.owner[a:b, 1]]
            x = np.exp(x - x.max(axis=1, keepdims=True))
            out[a:b] = x / x.sum(axis=1, keepdims=True)
        assert out is not None
        return out

    def _constrain(self, text: str, probs: np.ndarray) -> np.ndarray:
        """A table cell's label distribution given what its text can print (schema-constrained decoding).

        The network reads a cell in its context and can be pulled to a neighbour's label (a fragment 他处理 cut
        off （六）其他处理 next to 2.申请人逾期未按收费… on the same printed line). Where the text rules the network's
        label out — its label key is in no printed form of that label (service.understand.lexicon), or it is a
        bare number given a table label — the distribution is conditioned on the text: only O and the labels of
        the same table whose printed forms contain the text keep their probability (a bare number: O and val),
        renormalised. Nothing changes where the text fits the network's label, is too short to judge, or fits no
        label of the table (an OCR-garbled label: the network's reading stands)."""
        best = int(probs.argmax())
        label = self.labels[best]
        table = label.split(".")[0]
        if table not in self._printable:
            return probs
        if _BARE_NUMBER.match(text):
            keep = [0, self._val]
        else:
            if len(label_key(text)) < MIN_CONSTRAIN_KEY or can_print(label, text):
                return probs
            keep = [0] + [i for i in self._printable[table] if can_print(self.labels[i], text)]
            if len(keep) == 1:
                return probs
        out = np.zeros_like(probs)
        out[keep] = probs[keep]
        return out / max(float(out.sum()), 1e-9)

    def _numbers(self, key: SegmentKey, text: str, lab: np.ndarray) -> list[NumberPrediction]:
        out = []
        for m in _NUMBER.finditer(text[: len(lab)]):
            mean = lab[m.start() : m.end()].mean(axis=0)
            probs = {self.labels[i]: round(float(mean[i]), 4) for i in np.nonzero(self._fact & (mean >= 0.01))[0]}
            probs["O"] = round(float(mean[0]), 4)
            out.append(NumberPrediction(key=key, start=m.start(), end=m.end(), text=m.group(), probs=probs))
        return out

    def _spans(self, key: SegmentKey, text: str, tok: np.ndarray, lab: np.ndarray) -> list[SpanPrediction]:
        """BIO decoding of one segment: a span starts at B-x (or an I-x after something else) and runs on I-x.
        Fact labels are left out: facts are numbers, read per number (``Tagging.numbers``)."""
        return [s for s in self._bio_spans(key, text, tok, lab) if not self._fact[self.labels.index(s.label)]]

    def _bio_spans(self, key: SegmentKey, text: str, tok: np.ndarray, lab: np.ndarray) -> list[SpanPrediction]:
        best = tok.argmax(axis=1)
        out: list[SpanPrediction] = []
        cur: tuple[int, int] | None = None  # (start, label index)

        def close(end: int) -> None:
            if cur is not None:
                start, li = cur
                conf = float(lab[start:end, li].mean())
                out.append(
                    SpanPrediction(
                        key=key, start=start, end=end, label=self.labels[li], text=text[start:end], confidence=conf
                    )
                )

        for i, t in enumerate(best):
            if t == 0:
                close(i)
                cur = None
                continue
            li, is_begin = (t + 1) // 2, t % 2 == 1
            if cur is None or is_begin or cur[1] != li:
                close(i)
                cur = (i, li)
        close(len(best))
        return out


@lru_cache(maxsize=16)
def model_id(model_dir: str | Path) -> str | None:
    """The model's id, ``model_id`` of its ``xxgk.json`` (written by ``xxgk train --from``: a hash of its weights);
    None for the shipped model, which has none (so its results keep the plain pipeline version)."""
    meta = Path(model_dir) / "xxgk.json"
    if not meta.exists():
        return None
    value = json.loads(meta.read_text(encoding="utf-8")).get("model_id")
    return str(value) if value else None


def pipeline_version(cfg: ClassifierOptions) -> str:
    """The pipeline version a run with these classifier options stamps on its result: ``2.4`` with the shipped
    model (or with the classifier off), ``2.4+tagger.<id>`` with a retrained one (``classifier.model_dir``)."""
    return versioned(model_id(str(cfg.model_path)) if cfg.enabled else None)


@lru_cache(maxsize=4)
def get_tagger(model_dir: str | None = None, engine: str = "onnx-int8", threads: int = 1) -> Tagger:
    return Tagger(model_dir or DEFAULT_MODEL, engine=engine, threads=threads)

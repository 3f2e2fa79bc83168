"""Structure-aware mutators for the formats whose checksums stop blind mutations at the door: a DOCX is a zip (a
flipped byte breaks a member's CRC, so nearly every mutant is refused as a corrupt zip before python-docx parses
anything), a PNG's chunks carry a CRC each. The mutator opens the container, lets libFuzzer mutate what is inside
(a DOCX's XML member, mostly ``word/document.xml``; a PNG's bytes with every chunk's CRC then made right again),
and puts it back together; now and then, and whenever the input is not such a container any more, it mutates the
raw bytes as libFuzzer would. ``mutator(backend)``: the one a backend's fuzzing uses, or None."""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable

import atheris

Mutator = Callable[[bytes, int, int], bytes]
RAW_SHARE = 0.1  # mutants of the raw bytes: the container's own parsing is fuzzed too
TEXT = re.compile(rb"(<w:t(?:\s[^>]*)?>)([^<]*)(</w:t>)")
# elements WordprocessingML does not nest in themselves: one can be dropped or doubled, the XML stays well formed
ELEMENTS = [re.compile(rb"<w:%s[ >].*?</w:%s>" % (t, t), re.S) for t in (b"tr", b"tc", b"r")]


def docx(data: bytes, max_size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    if rng.random() < RAW_SHARE:
        return atheris.Mutate(data, max_size)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = [(info, z.read(info)) for info in z.infolist()]
    except Exception:  # not a zip any more, however it is broken (zlib.error, BadZipFile, EOFError …): raw bytes
        return atheris.Mutate(data, max_size)
    xml = [k for k, (info, _) in enumerate(members) if info.filename.endswith((".xml", ".rels"))]
    if not xml:
        return atheris.Mutate(data, max_size)
    body = [k for k in xml if members[k][0].filename == "word/document.xml"]
    k = body[0] if body and rng.random() < 0.7 else rng.choice(xml)
    info, content = members[k]
    roll = rng.random()
    if info.filename == "word/document.xml" and roll < 0.5:
        content = _mutate_texts(content, rng)  # the words and numbers of the report, the XML intact
    elif info.filename == "word/document.xml" and roll < 0.8:
        content = _drop_or_double(content, rng)  # rows, cells, runs lost or repeated
    else:
        content = atheris.Mutate(content, len(content) + 4096)
    members[k] = (info, content)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info, content in members:
            z.writestr(info.filename, content)
    packed = out.getvalue()
    return packed if len(packed) <= max_size else atheris.Mutate(data, max_size)


def _mutate_texts(xml: bytes, rng: random.Random) -> bytes:
    spans = list(TEXT.finditer(xml))
    if not spans:
        return atheris.Mutate(xml, len(xml) + 4096)
    out, at = [], 0
    for m in sorted(rng.sample(spans, min(len(spans), rng.randint(1, 3))), key=lambda m: m.start()):
        text = atheris.Mutate(m.group(2), len(m.group(2)) + 64).decode("utf-8", "ignore")
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()
        out += [xml[at : m.start()], m.group(1), escaped, m.group(3)]
        at = m.end()
    return b"".join([*out, xml[at:]])


def _drop_or_double(xml: bytes, rng: random.Random) -> bytes:
    spans = list(rng.choice(ELEMENTS).finditer(xml))
    if not spans:
        return xml
    m = rng.choice(spans)
    middle = b"" if rng.random() < 0.5 else m.group(0) * rng.randint(2, 20)
    return xml[: m.start()] + middle + xml[m.end() :]


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png(data: bytes, max_size: int, seed: int) -> bytes:
    mutant = atheris.Mutate(data, max_size)
    if random.Random(seed).random() < RAW_SHARE or not mutant.startswith(PNG_SIGNATURE):
        return mutant
    return _fix_png_crcs(mutant)


def _fix_png_crcs(data: bytes) -> bytes:
    """Every whole chunk's CRC computed again (a chunk cut short is left as it is)."""
    out = bytearray(data)
    at = len(PNG_SIGNATURE)
    while at + 12 <= len(out):
        (length,) = struct.unpack(">I", out[at : at + 4])
        end = at + 8 + length
        if end + 4 > len(out):
            break
        out[end : end + 4] = struct.pack(">I", zlib.crc32(out[at + 4 : end]) & 0xFFFFFFFF)
        at = end + 4
    return bytes(out)


def mutator(backend: str) -> Mutator | None:
    return {"docx": docx, "png": png}.get(backend)

"""Keywords from speech: what is said in an audio file, recognised offline
with PocketSphinx and the US English acoustic model, dictionary and language
model that ship inside the ``pocketsphinx`` package (nothing is downloaded).

The recogniser reads 16 kHz mono 16-bit PCM. WAV files (PCM, 8 to 32 bits,
any rate, any number of channels) are decoded with the standard library,
mixed to mono and resampled here; other containers (MP3, Ogg, FLAC...) would
need a decoder the server does not have, so they keep their metadata tags
only. At most MAX_SECONDS of audio are recognised (decoding runs at about
half real time on one core), and the transcript's keywords become
``keyword`` tags, with a ``speech`` tag so such files can be found as a group.

PocketSphinx is a small HMM recogniser: on clean read speech it gets most
content words right, on synthetic or noisy speech far fewer. Keywords must
therefore occur twice in the transcript before they are kept.
"""

from __future__ import annotations

import array
import sys
import wave

from .base import FileInfo, Tagger

MAX_SECONDS = 120
RATE = 16000
WAV_MIMES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")

_decoder = None


def read_wav(path: str, max_seconds: float = MAX_SECONDS) -> bytes:
    """16 kHz mono signed 16-bit little-endian PCM of (the start of) a WAV file."""
    with wave.open(path, "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        frames = w.readframes(min(w.getnframes(), int(rate * max_seconds)))
    samples = _to_int16(frames, width)
    if channels > 1:
        samples = array.array("h", (sum(samples[i:i + channels]) // channels
                                    for i in range(0, len(samples) - channels + 1, channels)))
    if rate != RATE:
        samples = _resample(samples, rate, RATE)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def _to_int16(frames: bytes, width: int) -> array.array:
    if width == 2:
        out = array.array("h")
        out.frombytes(frames[: len(frames) // 2 * 2])
        if sys.byteorder == "big":
            out.byteswap()
        return out
    if width == 1:  # unsigned 8-bit
        return array.array("h", ((b - 128) << 8 for b in frames))
    if width in (3, 4):  # keep the two most significant bytes of each little-endian sample
        return array.array("h", (int.from_bytes(frames[i + width - 2:i + width], "little", signed=True)
                                 for i in range(0, len(frames) - width + 1, width)))
    raise ValueError(f"unsupported WAV sample width: {width * 8} bits")


def _resample(samples: array.array, src: int, dst: int) -> array.array:
    """Linear interpolation after a moving-average low-pass when downsampling
    (enough for a recogniser that only looks below 8 kHz)."""
    if src > dst:
        width = max(1, round(src / dst))
        if width > 1:
            acc, window, smoothed = 0, [0] * width, array.array("h", bytes(2 * len(samples)))
            for i, x in enumerate(samples):
                acc += x - window[i % width]
                window[i % width] = x
                smoothed[i] = acc // width
            samples = smoothed
    n = int(len(samples) * dst / src)
    step = src / dst
    out = array.array("h", bytes(2 * n))
    last = len(samples) - 1
    for i in range(n):
        x = i * step
        j = int(x)
        a = samples[j]
        b = samples[j + 1] if j < last else a
        out[i] = int(a + (b - a) * (x - j))
    return out


def transcribe(pcm: bytes) -> str:
    """Recognise 16 kHz mono PCM with the bundled US English model."""
    global _decoder
    if _decoder is None:
        from pocketsphinx import Decoder

        _decoder = Decoder(samprate=RATE, loglevel="FATAL")
    _decoder.start_utt()
    _decoder.process_raw(pcm, full_utt=True)
    _decoder.end_utt()
    hyp = _decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


class SpeechTagger(Tagger):
    name = "speech"

    def accepts(self, info: FileInfo) -> bool:
        return info.size > 44 and (info.mime in WAV_MIMES or info.ext == "wav")

    def tag(self, info: FileInfo):
        from .text import keywords

        text = transcribe(read_wav(info.path))
        words = keywords(text, min_count=2)
        if words:
            yield "speech", "audio"
        for w in words:
            yield w, "keyword"

#!/usr/bin/env python3
"""Tiny random-weight reference fixtures for the Rust Higgs audio tokenizer parity tests.

Run by hand (CI has no torch), from the repository root, in a venv made with
    pip install -r scripts/higgs-reference/requirements.txt
as
    python scripts/higgs-reference/codec_fixtures.py

Builds boson-multimodal's `HiggsAudioTokenizer` with the published structure (24 kHz,
ratios [8, 5, 4, 2, 3] so 25 frames/s, 8 codebooks, HuBERT features averaged over all hidden
states and stepped down by 2) but tiny widths: DAC encoder 2 -> 64 channels, decoder 32 -> 1,
D = 16, a 2-layer HuBERT of width 32 built from a config (nothing is downloaded), 64-entry
codebooks of width 8. Everything is seeded, so re-running gives the same files.

It saves the tiny tokenizer in the PUBLISHED format (model.pth + config.json) to a temp dir,
converts it with convert_tokenizer.py into tts-higgs-worker/tests/fixtures/codec/, and writes
expected.safetensors there with the reference's outputs:
  wav24, wav16, wav441    inputs: 1.2 s at 24 kHz, 1.0 s at 16 kHz, 0.6 s at 44.1 kHz
  wav16_24, wav441_24     librosa.resample (soxr HQ) of those to 24 kHz, as encode() does
  semantic24              get_regress_target(wav24) (frames, 32): HuBERT mean, step-down
  quant_in24              fc_prior output, the quantizer input (frames, 48)
  codes24, codes16, codes441  encode() codes [codebook][frame] (int64)
  codes24_odd             encode() of wav24[:24480], whose acoustic and semantic frame
                          counts differ, so the reference re-pads and re-encodes
  codes16_ta              codes of wav16 if resampled with torchaudio instead of librosa
  decode_codes, decode_wav  random codes (8 x 20) and decode() of them (20 * 960 samples)
and info.json with the nearest-vs-second-nearest distance margins of every quantizer decision
(the script fails if a margin is so small that f32 rounding could flip a code).

    python scripts/higgs-reference/codec_fixtures.py --real-size DIR
instead writes the same files for a random tokenizer of the PUBLISHED sizes (DAC 64/1024,
D = 256, HuBERT-base, 1024 x 64 codebooks; ~0.7 GB) to DIR, not to the repository, for
`HIGGS_CODEC_REAL_DIR=DIR cargo test -p tts-higgs-worker --release --test codec_parity -- --ignored`.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import librosa
import numpy as np
import torch
import torchaudio
from safetensors.torch import save_file
from torch import nn
from transformers import HubertConfig, HubertModel

import boson_multimodal.audio_processing.higgs_audio_tokenizer as hat
from boson_multimodal.audio_processing.descriptaudiocodec.dac.model import dac as dac2
from boson_multimodal.audio_processing.quantization.vq import ResidualVectorQuantizer
from boson_multimodal.audio_processing.semantic_module import Decoder, Encoder

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tts-higgs-worker", "tests", "fixtures", "codec")
SEED = 1234
RATIOS = [8, 5, 4, 2, 3]
D = 16
SEM = 32
BINS = 64
CODEBOOK_DIM = 8
N_Q = 8
MIN_MARGIN = 1e-3  # relative gap between the best and second-best squared distance

PUBLISHED_CONFIG = {
    "n_filters": 32,
    "D": D,
    "codebook_dim": CODEBOOK_DIM,
    "target_bandwidths": [0.5, 1, 1.5, 2, 4],
    "ratios": RATIOS,
    "sample_rate": 24000,
    "bins": BINS,
    "n_q": N_Q,
    "semantic_techer": "hubert_base_general",
}

HUBERT = dict(
    hidden_size=SEM,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    conv_dim=[16] * 7,
    conv_kernel=[10, 3, 3, 3, 3, 2, 2],
    conv_stride=[5, 2, 2, 2, 2, 2, 2],
    conv_bias=False,
    feat_extract_norm="group",
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
    mask_time_prob=0.0,
)


def seed_all():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)


REAL = {"D": 256, "bins": 1024, "codebook_dim": 64}


def published_config(real_size):
    return {**PUBLISHED_CONFIG, **REAL} if real_size else PUBLISHED_CONFIG


def build_tiny(real_size=False):
    hub_cfg = HubertConfig(mask_time_prob=0.0) if real_size else HubertConfig(**HUBERT)

    class FakeAutoModel:
        @staticmethod
        def from_pretrained(*_args, **_kwargs):
            return HubertModel(hub_cfg)

    hat.AutoModel = FakeAutoModel  # the reference would download bosonai/hubert_base
    m = hat.HiggsAudioTokenizer(**published_config(real_size), device="cpu")
    if not real_size:
        shrink(m)
    # Random non-trivial snake alphas, weight-norm gains and biases, so every term is exercised.
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.startswith("semantic_model."):
                continue
            if name.endswith("alpha"):
                p.copy_(torch.rand_like(p) * 1.5 + 0.25)
            elif name.endswith("weight_g"):
                p.mul_(torch.rand_like(p) * 0.5 + 0.75)
            elif name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.05)
        for name, p in m.semantic_model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(torch.randn_like(p) * 0.05)
    m.eval()
    return m


def shrink(m):
    """The reference hard-codes DAC widths 64/1024 and a 768-wide semantic path; swap in tiny
    ones with the same structure."""
    m.encoder = dac2.Encoder(2, RATIOS, D)
    m.decoder_2 = dac2.Decoder(D, 32, RATIOS)
    m.semantic_dim = m.encoder_semantic_dim = SEM
    m.quantizer_dim = D + SEM
    m.encoder_semantic = Encoder(input_channels=SEM, encode_channels=SEM)
    m.decoder_semantic = Decoder(code_dim=SEM, output_channels=SEM, decode_channels=SEM)
    m.quantizer = ResidualVectorQuantizer(dimension=m.quantizer_dim, codebook_dim=CODEBOOK_DIM, n_q=N_Q, bins=BINS)
    m.fc_prior = nn.Linear(D + SEM, m.quantizer_dim)
    m.fc_post1 = nn.Linear(m.quantizer_dim, SEM)
    m.fc_post2 = nn.Linear(m.quantizer_dim, D)


def test_inputs():
    rng = np.random.default_rng(SEED)
    t24 = np.arange(int(1.2 * 24000)) / 24000
    f = 180 + 60 * np.sin(2 * np.pi * 1.3 * t24)
    wav24 = 0.4 * np.sin(2 * np.pi * np.cumsum(f) / 24000) + 0.2 * np.sin(2 * np.pi * 1250 * t24)
    wav24 = wav24 * (0.6 + 0.4 * np.sin(2 * np.pi * 2.1 * t24)) + 0.02 * rng.standard_normal(t24.size)
    t16 = np.arange(16000) / 16000
    wav16 = 0.5 * np.sin(2 * np.pi * 310 * t16) * (0.5 + 0.5 * np.cos(2 * np.pi * 1.7 * t16))
    wav16 = wav16 + 0.15 * np.sin(2 * np.pi * 2200 * t16) + 0.02 * rng.standard_normal(t16.size)
    # Fade in/out over 50 ms, as a recorded clip starts and ends: the resampler comparison is
    # about the signal, not about how soxr treats an abrupt edge.
    wav16 = wav16 * np.minimum(1.0, np.minimum(np.arange(t16.size), np.arange(t16.size)[::-1]) / 800)
    t44 = np.arange(int(0.6 * 44100)) / 44100
    wav441 = 0.3 * np.sign(np.sin(2 * np.pi * 150 * t44)) * np.exp(-3 * t44) + 0.2 * np.sin(2 * np.pi * 5000 * t44)
    wav441 = wav441 + 0.03 * rng.standard_normal(t44.size)
    wav441 = wav441 * np.minimum(1.0, np.minimum(np.arange(t44.size), np.arange(t44.size)[::-1]) / 2205)
    return wav24.astype(np.float32), wav16.astype(np.float32), wav441.astype(np.float32)


@torch.no_grad()
def quantizer_input(m, wav24):
    """The reference's _xcodec_encode up to fc_prior (same code path, stopped before the RVQ)."""
    x = torch.from_numpy(wav24)[None, None]
    sem_in = m.get_regress_target(x)
    e_sem = m.encoder_semantic(sem_in.transpose(1, 2))
    e_ac = m.encoder(x)
    if e_ac.shape[2] != e_sem.shape[2]:
        pad = 160 * m.semantic_downsample_factor
        e_ac = m.encoder(torch.nn.functional.pad(x[:, 0, :], (pad, pad)).unsqueeze(0))
    n = min(e_ac.shape[2], e_sem.shape[2])
    e = torch.cat([e_ac[:, :, :n], e_sem[:, :, :n]], dim=1)
    return sem_in[0], m.fc_prior(e.transpose(1, 2))[0]


@torch.no_grad()
def init_codebooks(m, latents, seed):
    """Codebooks drawn from the data each layer sees (like k-means init), plus noise, so codes vary."""
    g = torch.Generator().manual_seed(seed)
    residual = latents
    for layer in m.quantizer.vq.layers:
        x = layer.project_in(residual)
        bins, dim = layer._codebook.embed.shape
        idx = torch.randint(0, x.shape[0], (bins,), generator=g)
        embed = x[idx] + 0.3 * x.std() * torch.randn(bins, dim, generator=g)
        layer._codebook.embed.copy_(embed)
        layer._codebook.embed_avg.copy_(embed)
        layer._codebook.inited.fill_(1.0)
        residual = residual - layer.project_out(layer._codebook.embed[layer._codebook.quantize(x)])


@torch.no_grad()
def margins(m, latent):
    """Relative gap between the nearest and second-nearest codebook entry, every layer and frame."""
    out = []
    residual = latent
    for layer in m.quantizer.vq.layers:
        x = layer.project_in(residual)
        d = torch.cdist(x.double(), layer._codebook.embed.double()) ** 2
        top2 = d.topk(2, largest=False).values
        out.append(((top2[:, 1] - top2[:, 0]) / top2[:, 1].clamp_min(1e-12)).min().item())
        residual = residual - layer.project_out(layer._codebook.embed[d.argmin(1)].float())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-size", metavar="DIR", help="write a published-size random tokenizer to DIR")
    args = ap.parse_args()
    real_size = args.real_size is not None
    out = args.real_size or OUT
    seed_all()
    torch.set_num_threads(1 if not real_size else 2)
    m = build_tiny(real_size)
    wav24, wav16, wav441 = test_inputs()
    wav16_24 = librosa.resample(wav16, orig_sr=16000, target_sr=24000).astype(np.float32)
    wav441_24 = librosa.resample(wav441, orig_sr=44100, target_sr=24000).astype(np.float32)
    wav16_24_ta = torchaudio.functional.resample(torch.from_numpy(wav16), 16000, 24000).numpy()

    lat24, lat16 = quantizer_input(m, wav24)[1], quantizer_input(m, wav16_24)[1]
    lat441 = quantizer_input(m, wav441_24)[1]
    # 1.02 s: the acoustic and semantic frame counts differ (25 vs 26), so the reference takes
    # its re-pad-and-re-encode path.
    wav24_odd = wav24[:24480]
    lat_odd = quantizer_input(m, wav24_odd)[1]
    # Deterministic search for codebooks under which no quantizer decision of either clip is a
    # near-tie, so equal codes in Rust are a meaningful check and not luck of rounding.
    for codebook_seed in range(SEED, SEED + (200 if not real_size else 5)):
        init_codebooks(m, torch.cat([lat24, lat16, lat441, lat_odd]), codebook_seed)
        if min(margins(m, lat24) + margins(m, lat16) + margins(m, lat441) + margins(m, lat_odd)) >= MIN_MARGIN:
            break
    else:
        if not real_size:
            sys.exit("error: no codebook seed without near-ties; change the inputs")

    with tempfile.TemporaryDirectory() as published:
        torch.save(m.state_dict(), os.path.join(published, "model.pth"))
        with open(os.path.join(published, "config.json"), "w") as f:
            json.dump(published_config(real_size), f)
        hub_path = os.path.join(published, "hubert_config.json")
        with open(hub_path, "w") as f:
            json.dump(m.semantic_model.config.to_dict() if real_size else HUBERT, f)
        # Reload through the reference's own loader (strict=False, like the real checkpoint).
        m2 = build_tiny(real_size)
        m2.load_state_dict(torch.load(os.path.join(published, "model.pth"), weights_only=True))
        m2.eval()
        m = m2
        subprocess.run(
            [sys.executable, os.path.join(os.path.dirname(__file__), "convert_tokenizer.py"), published, out,
             "--hubert-config", hub_path],
            check=True,
        )

    semantic24, quant_in24 = quantizer_input(m, wav24)
    _, quant_in16 = quantizer_input(m, wav16_24)
    _, quant_in16_ta = quantizer_input(m, wav16_24_ta)
    _, quant_in441 = quantizer_input(m, wav441_24)
    codes24 = m.encode(wav24, sr=24000)
    codes16 = m.encode(wav16, sr=16000)
    codes16_ta = m.encode(wav16_24_ta, sr=24000)
    codes441 = m.encode(wav441, sr=44100)
    codes24_odd = m.encode(wav24_odd, sr=24000)
    _, quant_in_odd = quantizer_input(m, wav24_odd)
    g = torch.Generator().manual_seed(SEED + 1)
    decode_codes = torch.randint(0, m.quantizer.bins, (N_Q, 20), generator=g)
    decode_wav = torch.from_numpy(m.decode(decode_codes[None]))[0, 0]

    info = {
        "seed": SEED,
        "codebook_seed": codebook_seed,
        "frames24": int(codes24.shape[1]),
        "frames16": int(codes16.shape[1]),
        "margins24": margins(m, quant_in24),
        "margins16": margins(m, quant_in16),
        "margins16_torchaudio": margins(m, quant_in16_ta),
        "margins441": margins(m, quant_in441),
        "frames441": int(codes441.shape[1]),
        "margins24_odd": margins(m, quant_in_odd),
        "frames24_odd": int(codes24_odd.shape[1]),
        "codes16_equal_with_torchaudio_resampler": bool(torch.equal(codes16, codes16_ta)),
        "codes16_frames_differing_with_torchaudio_resampler": int((codes16 != codes16_ta).any(0).sum())
        if codes16.shape == codes16_ta.shape
        else -1,
        "max_abs_librosa_vs_torchaudio_16k_to_24k": float(
            np.abs(wav16_24[: wav16_24_ta.size] - wav16_24_ta[: wav16_24.size]).max()
        ),
        "distinct_codes_per_codebook24": [len(set(r.tolist())) for r in codes24],
        "decode_wav_rms": float(decode_wav.pow(2).mean().sqrt()),
    }
    for key in ("margins24", "margins16", "margins441", "margins24_odd"):
        worst = min(info[key])
        if worst < MIN_MARGIN and not real_size:
            sys.exit(f"error: {key} has a near-tie ({worst:.2e} < {MIN_MARGIN}); change the inputs or seed")

    tensors = {
        "wav24": torch.from_numpy(wav24),
        "wav16": torch.from_numpy(wav16),
        "semantic24": semantic24.contiguous(),
        "quant_in24": quant_in24.contiguous(),
        "codes24": codes24.to(torch.int64).contiguous(),
        "codes16": codes16.to(torch.int64).contiguous(),
        "codes16_ta": codes16_ta.to(torch.int64).contiguous(),
        "wav441": torch.from_numpy(wav441),
        "wav16_24": torch.from_numpy(wav16_24),
        "wav441_24": torch.from_numpy(wav441_24),
        "codes441": codes441.to(torch.int64).contiguous(),
        "codes24_odd": codes24_odd.to(torch.int64).contiguous(),
        "decode_codes": decode_codes.to(torch.int64).contiguous(),
        "decode_wav": decode_wav.contiguous(),
    }
    save_file(tensors, os.path.join(out, "expected.safetensors"))
    with open(os.path.join(out, "info.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()

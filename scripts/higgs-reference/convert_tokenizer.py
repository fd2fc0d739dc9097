#!/usr/bin/env python3
"""Convert the published Higgs Audio v2 audio tokenizer to the format the Rust worker loads.

Run ONCE per checkpoint, in a venv made with
    pip install -r scripts/higgs-reference/requirements.txt
then
    python scripts/higgs-reference/convert_tokenizer.py SRC_DIR OUT_DIR [--hubert-config FILE]

SRC_DIR holds the published `model.pth` (a torch state dict of `HiggsAudioTokenizer`) and
`config.json`. OUT_DIR receives `model.safetensors` (f32) and `config.json`; that pair is all
`tts_higgs_worker::codec::AudioTokenizer::load` reads.

What the conversion does:
- Folds weight norm into plain weights (`w = g * v / ||v||`, the norm taken over every dim
  where `g` has size 1), for both the old `weight_g`/`weight_v` names (DAC) and the
  `parametrizations.weight.original0/1` names (HuBERT's positional conv). The folded tensor
  is stored as `<module>.weight`; every other tensor keeps its original name, so
  `encoder.block.0.weight`, `decoder_2.model.1.block.1.weight`, `semantic_model.encoder...`,
  `quantizer.vq.layers.0._codebook.embed` read the same as in the Python module tree.
- Drops what inference never uses: `decoder_semantic.*`, `fc_post1.*` (semantic
  reconstruction, training only), the codebooks' EMA/k-means buffers and HuBERT's
  `masked_spec_embed`.
- Writes a config.json with the published fields plus the sizes the Python code hard-codes
  or takes from the hub (DAC encoder/decoder widths, semantic width, HuBERT's config), read
  from the weights where the weights determine them. HuBERT's head count and conv strides
  cannot be read from weights: they come from --hubert-config (a transformers HubertConfig
  JSON) or default to HuBERT-base, which is what the published tokenizer uses.
"""

import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

HUBERT_BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "conv_dim": [512] * 7,
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": False,
    "feat_extract_norm": "group",
    "feat_proj_layer_norm": True,
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "layer_norm_eps": 1e-5,
    "do_stable_layer_norm": False,
    "hidden_act": "gelu",
    "feat_extract_activation": "gelu",
}

DROP_PREFIXES = ("decoder_semantic.", "fc_post1.")
DROP_SUFFIXES = ("._codebook.inited", "._codebook.cluster_size", "._codebook.embed_avg", "masked_spec_embed")


def fold_weight_norm(g, v):
    dims = [d for d in range(v.dim()) if g.shape[d] == 1]
    return g * v / v.pow(2).sum(dim=dims, keepdim=True).sqrt()


def convert_state_dict(sd):
    out = {}
    for key, value in sd.items():
        if key.startswith(DROP_PREFIXES) or key.endswith(DROP_SUFFIXES):
            continue
        if key.endswith(".weight_v") or key.endswith(".parametrizations.weight.original1"):
            continue
        if key.endswith(".weight_g"):
            base = key[: -len(".weight_g")]
            out[base + ".weight"] = fold_weight_norm(value.double(), sd[base + ".weight_v"].double())
        elif key.endswith(".parametrizations.weight.original0"):
            base = key[: -len(".parametrizations.weight.original0")]
            v = sd[base + ".parametrizations.weight.original1"]
            out[base + ".weight"] = fold_weight_norm(value.double(), v.double())
        else:
            out[key] = value
    return {k: v.detach().to(torch.float32).contiguous() for k, v in out.items()}


def count_indexed(sd, prefix):
    n = 0
    while any(k.startswith(f"{prefix}{n}.") for k in sd):
        n += 1
    return n


def derive_config(published, sd, hubert_overrides):
    def need(key):
        if key not in sd:
            sys.exit(f"error: model.pth has no tensor {key!r}; is this a HiggsAudioTokenizer state dict?")
        return sd[key]

    if not any(k.startswith("semantic_model.") for k in sd):
        sys.exit("error: model.pth has no semantic_model.* tensors (the HuBERT weights); cannot encode")
    cfg = dict(published)
    ratios = cfg.get("ratios", [8, 5, 4, 2, 3])
    n = len(ratios)
    cfg["encoder_dim"] = need("encoder.block.0.weight").shape[0]
    cfg["decoder_dim"] = need("decoder_2.model.0.weight").shape[0]
    cfg["D"] = need(f"encoder.block.{n + 2}.weight").shape[0]
    cfg["semantic_dim"] = need("encoder_semantic.conv.conv.weight").shape[1]
    cfg.setdefault("semantic_sample_rate", 16000)
    cfg.setdefault("downsample_mode", "step_down")
    cfg.setdefault("vq_scale", 1)
    qdim = need("fc_prior.weight").shape[0]
    if (cfg["D"] + cfg["semantic_dim"]) // cfg["vq_scale"] != qdim:
        sys.exit(f"error: fc_prior has width {qdim}, config implies {(cfg['D'] + cfg['semantic_dim']) // cfg['vq_scale']}")
    cfg["n_q"] = count_indexed(sd, "quantizer.vq.layers.")
    embed = need("quantizer.vq.layers.0._codebook.embed")
    cfg["bins"] = embed.shape[0]
    cfg["codebook_dim"] = embed.shape[1]

    hub = dict(HUBERT_BASE)
    hub.update({k: v for k, v in hubert_overrides.items() if k in HUBERT_BASE})
    p = "semantic_model."
    hub["hidden_size"] = need(p + "feature_projection.projection.weight").shape[0]
    n_conv = count_indexed(sd, p + "feature_extractor.conv_layers.")
    hub["conv_dim"] = [sd[f"{p}feature_extractor.conv_layers.{i}.conv.weight"].shape[0] for i in range(n_conv)]
    hub["conv_kernel"] = [sd[f"{p}feature_extractor.conv_layers.{i}.conv.weight"].shape[2] for i in range(n_conv)]
    hub["conv_bias"] = f"{p}feature_extractor.conv_layers.0.conv.bias" in sd
    hub["num_hidden_layers"] = count_indexed(sd, p + "encoder.layers.")
    hub["intermediate_size"] = need(p + "encoder.layers.0.feed_forward.intermediate_dense.weight").shape[0]
    pos = need(p + "encoder.pos_conv_embed.conv.weight")
    hub["num_conv_pos_embeddings"] = pos.shape[2]
    hub["num_conv_pos_embedding_groups"] = hub["hidden_size"] // pos.shape[1]
    hub["feat_extract_norm"] = (
        "layer" if f"{p}feature_extractor.conv_layers.1.layer_norm.weight" in sd else "group"
    )
    if len(hub["conv_stride"]) != n_conv:
        sys.exit(f"error: {n_conv} HuBERT conv layers but {len(hub['conv_stride'])} strides; pass --hubert-config")
    cfg["hubert"] = hub
    cfg["format"] = "yapit-higgs-audio-tokenizer/1"
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="folder with the published model.pth and config.json")
    ap.add_argument("out", help="folder to write model.safetensors and config.json to")
    ap.add_argument("--hubert-config", help="transformers HubertConfig JSON (default: HuBERT-base)")
    args = ap.parse_args()

    with open(os.path.join(args.src, "config.json")) as f:
        published = json.load(f)
    sd = torch.load(os.path.join(args.src, "model.pth"), map_location="cpu", weights_only=True)
    overrides = {}
    if args.hubert_config:
        with open(args.hubert_config) as f:
            overrides = json.load(f)
    tensors = convert_state_dict(sd)
    cfg = derive_config(published, tensors, overrides)
    os.makedirs(args.out, exist_ok=True)
    save_file(tensors, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    total = sum(t.numel() for t in tensors.values())
    print(f"wrote {len(tensors)} tensors ({total} values) and config.json to {args.out}")


if __name__ == "__main__":
    main()

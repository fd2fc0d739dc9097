#!/usr/bin/env python3
"""Tensor manifest of the published Higgs Audio v2 checkpoint (bosonai/higgs-audio-v2-generation-3B-base).

The real weights (11.5 GB) cannot be fetched here, so names and shapes are derived by building the
reference `HiggsAudioModel` (boson-multimodal 0.1.1) on torch's meta device from the checkpoint's
published config.json, then checked against the published model.safetensors.index.json: the same
397 names, and bf16 sizes that add up to its `metadata.total_size`. The Rust manifest test loads
our model definition against the result.

Run it by hand (CI has no torch), from the repository root, in a virtual environment made with
`pip install -r scripts/higgs-reference/requirements.txt`, pointing at a directory holding the
checkpoint's config.json and model.safetensors.index.json (the small files of the model repo):

    python scripts/higgs-reference/manifest.py /path/to/higgs-audio-v2-generation-3B-base

It writes tts-higgs-worker/tests/fixtures/manifest/higgs-audio-v2-generation-3B-base.json.
"""

import json
import os
import sys

import torch

from boson_multimodal.model.higgs_audio import HiggsAudioConfig, HiggsAudioModel

OUT = os.path.join(
    os.path.dirname(__file__),
    "..",
    "..",
    "tts-higgs-worker",
    "tests",
    "fixtures",
    "manifest",
    "higgs-audio-v2-generation-3B-base.json",
)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    src = sys.argv[1]
    with open(os.path.join(src, "config.json")) as f:
        config_json = json.load(f)
    with open(os.path.join(src, "model.safetensors.index.json")) as f:
        index = json.load(f)

    config = HiggsAudioConfig(**json.loads(json.dumps(config_json)))
    with torch.device("meta"):
        model = HiggsAudioModel(config)
    tensors = {name: list(t.shape) for name, t in model.state_dict().items()}

    index_names = set(index["weight_map"])
    if set(tensors) != index_names:
        raise SystemExit(
            f"meta model and index disagree: only in model {sorted(set(tensors) - index_names)}, "
            f"only in index {sorted(index_names - set(tensors))}"
        )
    bf16_bytes = sum(2 * torch.Size(s).numel() for s in tensors.values())
    if bf16_bytes != index["metadata"]["total_size"]:
        raise SystemExit(f"bf16 size {bf16_bytes} != index total_size {index['metadata']['total_size']}")

    manifest = {
        "source": (
            "Names from the published model.safetensors.index.json of bosonai/higgs-audio-v2-generation-3B-base "
            "(397 tensors, total_size 11542566912 bytes in bf16); shapes derived by instantiating the reference "
            "HiggsAudioModel (boson-multimodal 0.1.1) on torch's meta device with the published config.json, "
            "checked to match the index's names exactly and its total_size. Not read from the weight files."
        ),
        "index_total_size": index["metadata"]["total_size"],
        "config": config_json,
        "tensors": dict(sorted(tensors.items())),
    }
    with open(OUT, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(tensors)} tensors to {os.path.abspath(OUT)}")


if __name__ == "__main__":
    main()

//! The Higgs Audio v2 audio tokenizer (xcodec-style: DAC + HuBERT semantic features + RVQ).

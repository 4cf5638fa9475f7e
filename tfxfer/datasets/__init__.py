"""Small real datasets bundled with tfxfer, their loaders and pretrained artifacts.

Every bundled file ships inside the package, in `tfxfer/data/` (or lives in
the folder named by the `TFXFER_DATA_DIR` environment variable), and is
checked against its SHA-256 recorded in the code (`DIGESTS`) before it is
read (`data_file`). Provenance and licences are in `tfxfer/data/README.md`.

- Text: `load_news()` (source task: 200 Usenet posts, alt.atheism vs
  sci.space), `load_reviews()` (target task: 200 movie-review sentences,
  neg vs pos), `load_corpus()` (Word2Vec pretraining corpus: Wikipedia sample
  and Lee news stories), and the word similarity and analogy sets
  (`word_vector_benchmarks()`, for `tfxfer.evaluate_word_vectors`); and
  Kim (2014)'s sentence-polarity sets `load_sentences("cr" | "mpqa" | "mr")`
  (customer reviews, news opinion phrases, movie reviews; a fixed split).
- Numeric, read from scikit-learn: `load_digits(task="0-4" | "5-9")`,
  `load_diabetes(group=1 | 2)`.
- Pretrained: `load_pretrained_word_vectors()`,
  `load_pretrained_digits_cnn()` (architecture: `make_digits_cnn`).
- Your own labeled CSV files: `read_labeled_csv` (texts or numeric features
  and checked labels; `encode_labels` refuses look-alike labels such as
  `" pos"` and `"pos"`).
- Every loader takes `split="train" | "test"` and a `seed`; splits are
  stratified and reproducible (`split_indices`, `split_frame`);
  `sample_per_class(y, n, seed=0)` picks n labeled examples of every class.

Rebuild every file from installed packages with
`python -m tfxfer.datasets build [--out DIR]` (the maintainer's script in
`tfxfer.datasets.build`, which `import tfxfer` does not load), and check them
with `python -m tfxfer.datasets verify` or `verify()`.
"""

from tfxfer.datasets.integrity import (
    DATA_DIR_ENV,
    DIGESTS,
    data_dir,
    data_file,
    sha256_of,
    verify,
)
from tfxfer.datasets.labeled_csv import (
    LabeledData,
    encode_labels,
    find_look_alike_labels,
    read_labeled_csv,
)
from tfxfer.datasets.numeric import (
    DIABETES_FEATURES,
    DIABETES_GROUPS,
    DIGITS_TASKS,
    load_diabetes,
    load_digits,
)
from tfxfer.datasets.pretrained import (
    DIGITS_CNN_FILE,
    SENTENCE_WORD2VEC_FILE,
    WORD2VEC_FILE,
    WORD_VECTOR_FILES,
    load_pretrained_digits_cnn,
    load_pretrained_word_vectors,
    make_digits_cnn,
)
from tfxfer.datasets.splits import sample_per_class, split_frame, split_indices
from tfxfer.datasets.text import (
    CORPUS_FILE,
    NEWS_CLASSES,
    NEWS_FILE,
    REVIEW_CLASSES,
    REVIEWS_FILE,
    TextCorpus,
    load_corpus,
    load_news,
    load_reviews,
    load_sentences,
    word_vector_benchmarks,
)

__all__ = [
    "CORPUS_FILE",
    "DATA_DIR_ENV",
    "DIABETES_FEATURES",
    "DIABETES_GROUPS",
    "DIGESTS",
    "DIGITS_CNN_FILE",
    "DIGITS_TASKS",
    "NEWS_CLASSES",
    "NEWS_FILE",
    "REVIEWS_FILE",
    "REVIEW_CLASSES",
    "SENTENCE_WORD2VEC_FILE",
    "WORD2VEC_FILE",
    "WORD_VECTOR_FILES",
    "LabeledData",
    "TextCorpus",
    "data_dir",
    "data_file",
    "encode_labels",
    "find_look_alike_labels",
    "load_corpus",
    "load_diabetes",
    "load_digits",
    "load_news",
    "load_pretrained_digits_cnn",
    "load_pretrained_word_vectors",
    "load_reviews",
    "load_sentences",
    "make_digits_cnn",
    "read_labeled_csv",
    "sample_per_class",
    "sha256_of",
    "split_frame",
    "split_indices",
    "verify",
    "word_vector_benchmarks",
]

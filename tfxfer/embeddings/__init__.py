"""Word vectors for transfer: safe loading, Word2Vec pretraining, embedding
matrices with coverage reports, and their evaluation.

gensim is imported only inside the functions that need it.
"""

from tfxfer.embeddings.loading import default_cache_dir, load_word_vectors

__all__ = [
    "default_cache_dir",
    "load_word_vectors",
]

"""Word vectors for transfer: safe loading, Word2Vec pretraining, embedding
matrices with coverage reports, and their evaluation.

gensim is imported only inside the functions that need it.
"""

from tfxfer.embeddings.evaluation import evaluate_word_vectors
from tfxfer.embeddings.loading import default_cache_dir, load_word_vectors
from tfxfer.embeddings.matrix import (
    EmbeddingReport,
    build_embedding_matrix,
    embedding_layer,
)
from tfxfer.embeddings.word2vec import LineCorpus, stable_hash, train_word2vec

__all__ = [
    "EmbeddingReport",
    "LineCorpus",
    "build_embedding_matrix",
    "default_cache_dir",
    "embedding_layer",
    "evaluate_word_vectors",
    "load_word_vectors",
    "stable_hash",
    "train_word2vec",
]

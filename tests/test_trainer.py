import numpy as np
import tensorflow as tf

import signatures
import trainer

HP = {"vocab_size": 50, "sequence_length": 6, "embedding_dim": 4, "conv_filters": 4, "hidden_units": 4,
      "dropout": 0.0, "learning_rate": 0.05}


def test_model_maps_token_ids_to_a_probability():
    model = trainer.build_model(HP)
    assert model.input_shape == (None, 6)
    assert model.get_layer("embedding").input_dim == 52  # padding + vocabulary + OOV
    assert model.output_names == [signatures.PROBABILITY_OUTPUT]
    out = model.predict(np.array([[1, 2, 3, 0, 0, 0], [51, 0, 0, 0, 0, 0]]), verbose=0)
    assert out.shape == (2, 1) and np.all((out >= 0) & (out <= 1))


def test_model_learns_a_word_that_decides_the_label():
    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(3, 50, size=(400, 6))
    y = rng.integers(0, 2, size=400)
    x[:, 0] = np.where(y == 1, 1, 2)  # token 1 means Post, token 2 means Pre
    model = trainer.build_model(HP)
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    _, auc, accuracy = model.evaluate(x, y, verbose=0)
    assert auc > 0.95 and accuracy > 0.9

"""The numpy and ONNX Runtime forward passes must predict what the TensorFlow model predicts."""

import numpy as np
import pytest
from comparing import assert_same_parse

from diet_sparse.inference import sinusoidal_positions as numpy_positions
from diet_sparse.training.batching import make_batch
from diet_sparse.training.transformer import sinusoidal_positions as tensorflow_positions


def test_positions_match_tensorflow():
    np.testing.assert_allclose(numpy_positions(13, 32), tensorflow_positions(13, 32).numpy(),
                               atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("forward", ["network", "predictor"])  # numpy; ONNX Runtime
@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_outputs_equal_keras_outputs(trained_nlu, example_data, batch_size, forward):
    texts = [example.text for example in example_data.examples][:batch_size] + ["", "?!"]
    featurized = trained_nlu.featurizer.transform(texts)
    ours = getattr(trained_nlu, forward)(featurized.features, featurized.offsets)
    batch = make_batch(featurized, np.arange(len(texts)))
    keras = trained_nlu.keras_model.predict_outputs(batch.features, batch.mask, batch.token_counts)
    assert set(ours) == set(keras) == {"intent", "entity", "role", "group"}
    token_counts = np.diff(featurized.offsets) - 1
    for name, value in ours.items():
        expected = keras[name].numpy()
        if name == "intent":
            np.testing.assert_allclose(value, expected, atol=1e-5)
            continue
        for i, n in enumerate(token_counts):  # padding positions are free to differ
            np.testing.assert_allclose(value[i, :n], expected[i, :n], atol=1e-4, rtol=1e-4)


def test_parse_results_equal_keras_based_parse(trained_nlu, example_data):
    """Parse every example through the Keras model's outputs and through ONNX Runtime."""
    texts = [example.text for example in example_data.examples]

    class KerasNetwork:
        def __call__(self, features, offsets, threads=None):
            from diet_sparse.featurizer import FeaturizedBatch

            featurized = FeaturizedBatch([[]] * (len(offsets) - 1), features, offsets)
            batch = make_batch(featurized, np.arange(len(offsets) - 1))
            outputs = trained_nlu.keras_model.predict_outputs(
                batch.features, batch.mask, batch.token_counts
            )
            return {name: value.numpy() for name, value in outputs.items()}

    from dataclasses import replace

    keras_based = replace(trained_nlu)
    keras_based.predictor = KerasNetwork()
    for ours, theirs in zip(trained_nlu.parse_batch(texts), keras_based.parse_batch(texts)):
        assert_same_parse(ours, theirs, tolerance=1e-4)

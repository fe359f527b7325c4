"""Evaluation and sweep plots: PNG files are written, sized to the number of intents."""

import math
import struct

import pytest

from diet_sparse.evaluation.plots import (
    plot_confidence_histogram,
    plot_confusion_matrix,
    plot_sweep,
)

# matplotlib's mathtext uses pyparsing names that pyparsing >= 3.3 deprecates
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:matplotlib.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyparsing.*"),
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """Width and height in pixels, read from the PNG header."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return struct.unpack(">II", data[16:24])


def test_confusion_matrix_grows_with_the_number_of_intents(tmp_path):
    labels = [f"faq/question_about_topic_{i:02d}" for i in range(67)]
    gold = [label for label in labels for _ in range(3)]
    predicted = [label if k else labels[(i + 1) % 67] for i, label in enumerate(labels)
                 for k in range(3)]  # fmt: skip
    large = plot_confusion_matrix(gold, predicted, tmp_path / "large" / "cm.png")
    small = plot_confusion_matrix(["greet", "bye", "bye"], ["greet", "bye", "greet"],
                                  tmp_path / "small.png")  # fmt: skip
    large_width, large_height = png_size(large)
    small_width, _ = png_size(small)
    assert large_width >= 2000 and large_height >= 2000  # about 0.3 inch per intent at 100 dpi
    assert small_width < 1200


def test_confusion_matrix_needs_one_prediction_per_gold_label(tmp_path):
    with pytest.raises(ValueError, match="same length"):
        plot_confusion_matrix(["greet"], [], tmp_path / "cm.png")


def test_confidence_histogram_is_written_also_without_errors(tmp_path):
    path = plot_confidence_histogram([0.9, 0.95, 0.6], [], tmp_path / "histogram.png")
    assert png_size(path)[0] > 0 and path.stat().st_size > 1000


def test_sweep_plot_with_repeats_and_missing_values(tmp_path):
    rows = [
        {"density": density, "size": size, "seed": seed,
         "randomly_connected_weights": int(size * size * 8 * density) + seed,
         "intent_weighted_f1": 0.5 + 0.1 * math.log2(size) / 8 + 0.01 * seed,
         "entity_micro_f1": math.nan if density < 0.1 else 0.6}
        for density in (1.0, 0.2, 0.05)
        for size in (8, 16, 32)
        for seed in (0, 1)
    ]  # fmt: skip
    intent = plot_sweep(rows, "intent_weighted_f1", tmp_path / "intent.png", "example")
    entity = plot_sweep(rows, "entity_micro_f1", tmp_path / "entity.png", "example")
    assert png_size(intent)[0] > 0 and png_size(entity)[0] > 0
    assert intent.stat().st_size > 5000

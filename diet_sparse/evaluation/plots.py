"""Pictures of evaluation results: the confusion matrix (of intents, or of a dialogue policy's
actions), the confidence histogram and the F1-against-trainable-weights curves of a
connection-density sweep, written as PNG files.

Figures are made with matplotlib's object API (`matplotlib.figure.Figure`), never with pyplot:
nothing opens a window, no display is needed, and the backend of a program that imports this
module (a notebook, a GUI) is left alone.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from diet_sparse.persistence import atomic_file

METRIC_LABELS = {
    "intent_weighted_f1": "intent F1 (weighted average)",
    "entity_micro_f1": "entity F1 (micro average, exact spans)",
    "action_weighted_f1": "action F1 (weighted average)",
    "action_accuracy": "action accuracy",
    "conversation_accuracy": "conversation accuracy (every action right)",
}


def plot_confusion_matrix(
    gold: Sequence[str],
    predicted: Sequence[str],
    path: str | Path,
    title: str = "Intent confusion matrix",
    unit: str = "messages",
) -> Path:
    """Draw the confusion matrix of gold (rows) against predicted (columns) labels.

    Labels are sorted alphabetically (so ``faq/...`` intents sit together), the figure grows with
    the number of labels so that 60+ intents stay readable, cells are coloured by the fraction of
    their row (the recall of the gold label) and only non-zero cells are annotated with counts.

    Args:
        gold: the gold label of each message.
        predicted: the predicted label of each message, in the same order.
        path: PNG file to write; its directory is created.
        title: figure title.
        unit: what one gold/predicted pair is, in the colour bar's label and the title:
            ``"messages"`` for intents, ``"actions"`` for a dialogue policy's actions.

    Returns:
        ``path`` as a `Path`.

    Example:
        >>> plot_confusion_matrix(["greet", "bye"], ["greet", "greet"], "cm.png")  # doctest: +SKIP
    """
    if len(gold) != len(predicted):
        raise ValueError(
            f"gold and predicted must have the same length, got {len(gold)} and {len(predicted)}"
        )
    labels = sorted(set(gold) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    n = len(labels)
    counts = np.zeros((n, n), dtype=int)
    for g, p in zip(gold, predicted):
        counts[index[g], index[p]] += 1
    row_totals = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)

    # About 0.3 inch per label, plus room for the tick labels: readable at 67 intents.
    longest = max((len(label) for label in labels), default=1)
    label_inches = min(0.07 * longest, 4.0) + 1.0
    side = max(4.0, 0.3 * n)
    figure = Figure(figsize=(side + label_inches + 1.5, side + label_inches + 0.5), dpi=100)
    axes = figure.add_subplot()
    colour_map = colormaps["Blues"].with_extremes(bad="white")  # empty cells stay white
    shown = np.ma.masked_where(counts == 0, fractions)
    image = axes.imshow(shown, cmap=colour_map, vmin=0.0, vmax=1.0, aspect="equal")
    colorbar = figure.colorbar(image, ax=axes, fraction=0.03, pad=0.02)
    colorbar.set_label(f"fraction of the gold label's {unit}")
    font_size = 9 if n <= 30 else 7
    for i, j in zip(*np.nonzero(counts)):
        axes.text(
            j,
            i,
            str(counts[i, j]),
            ha="center",
            va="center",
            fontsize=font_size,
            color="white" if fractions[i, j] > 0.5 else "black",
        )
    axes.set_xticks(range(n), labels, rotation=60, ha="right", rotation_mode="anchor")
    axes.set_yticks(range(n), labels)
    axes.tick_params(labelsize=font_size + 1)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(f"{title} ({len(gold)} {unit}, {n} labels)")
    return _save(figure, path)


def plot_confidence_histogram(
    correct_confidences: Sequence[float],
    wrong_confidences: Sequence[float],
    path: str | Path,
    title: str = "Intent prediction confidence",
) -> Path:
    """Draw histograms of the confidence of correct and of wrong predictions, side by side.

    Args:
        correct_confidences: confidence of each correctly predicted message.
        wrong_confidences: confidence of each wrongly predicted message.
        path: PNG file to write; its directory is created.
        title: figure title.

    Returns:
        ``path`` as a `Path`.
    """
    bins = np.linspace(0.0, 1.0, 21)
    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.add_subplot()
    axes.hist(
        [np.asarray(correct_confidences, float), np.asarray(wrong_confidences, float)],
        bins=bins,
        color=["tab:green", "tab:red"],
        label=[f"correct ({len(correct_confidences)})", f"wrong ({len(wrong_confidences)})"],
    )
    axes.set_xlim(0.0, 1.0)
    axes.set_xlabel("confidence of the predicted intent")
    axes.set_ylabel("messages")
    axes.set_title(title)
    axes.legend(loc="upper left")
    axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def plot_sweep(
    rows: Sequence[Mapping[str, object]], metric: str, path: str | Path, title: str
) -> Path:
    """Draw a sweep's F1 against trainable weights (log x axis), one coloured curve per density.

    Each point is a transformer size (written above it); with several seeds per point the line
    is the mean and the shaded band spans the lowest to the highest seed. Points whose metric is
    NaN (e.g. entity F1 on test data without entities) are left out.

    Args:
        rows: sweep rows with ``density``, ``size``, ``randomly_connected_weights`` and
            ``metric`` (numbers or their text, as read from ``sweep.csv``).
        metric: the row key to plot on the y axis, e.g. ``"intent_weighted_f1"``.
        path: PNG file to write; its directory is created.
        title: figure title, e.g. the dataset name and the metric.

    Returns:
        ``path`` as a `Path`.
    """
    # density -> size -> (connected weights, metric) of each seed
    points: dict[float, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    # Colours follow all densities of the rows, so the intent and entity plots of a sweep match.
    colours = _density_colours(sorted({float(row["density"]) for row in rows}, reverse=True))
    for row in rows:
        value = float(row[metric])
        if math.isnan(value):
            continue
        density = float(row["density"])
        weights = float(row["randomly_connected_weights"])
        points[density][int(row["size"])].append((weights, value))

    figure = Figure(figsize=(9, 5.5), dpi=100)
    axes = figure.add_subplot()
    for density in sorted(points, reverse=True):
        by_size = points[density]
        sizes = sorted(by_size, key=lambda size: np.mean([w for w, _ in by_size[size]]))
        x = np.array([np.mean([w for w, _ in by_size[size]]) for size in sizes])
        values = [np.array([v for _, v in by_size[size]]) for size in sizes]
        mean = np.array([v.mean() for v in values])
        label = f"density {density:g}"
        axes.plot(x, mean, marker="o", color=colours[density], label=label)
        for size, x_at, y_at in zip(sizes, x, mean):
            axes.annotate(
                str(size),
                (x_at, y_at),
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                color="dimgrey",
            )
        if any(len(v) > 1 for v in values):
            low = np.array([v.min() for v in values])
            high = np.array([v.max() for v in values])
            axes.fill_between(x, low, high, color=colours[density], alpha=0.2, linewidth=0)
    repeats = Counter(len(by_size[s]) for by_size in points.values() for s in by_size)
    if not points:
        axes.text(0.5, 0.5, "no values to plot", ha="center", va="center", transform=axes.transAxes)
    else:
        axes.set_xscale("log")
        # Plain numbers at 1, 2 and 5 times each power of ten: readable over any range.
        axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axes.xaxis.set_major_formatter(FuncFormatter(_count_label))
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.legend(title="connection_density", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    most_repeats = max(repeats, default=1)
    if most_repeats > 1:
        title += f"\n(mean of {most_repeats} seeds, band from lowest to highest)"
    axes.set_xlabel("trainable weights in the randomly connected layers (connected weights)")
    axes.set_ylabel(METRIC_LABELS.get(metric, metric))
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    return _save(figure, path)


def _count_label(value: float, position: int | None = None) -> str:
    """``500``, ``2k``, ``1.5M``: a weight count short enough for an axis tick."""
    for divisor, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= divisor:
            return f"{value / divisor:g}{suffix}"
    return f"{value:g}"


def _density_colours(densities: Sequence[float]) -> dict[float, tuple]:
    """One tab10 colour per density, densest first."""
    palette = colormaps["tab10"].colors
    return {density: palette[i % len(palette)] for i, density in enumerate(densities)}


def _save(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as a PNG at ``path``, atomically: an interrupted or failed write leaves
    the old plot (or none), never part of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    with atomic_file(path) as temporary:
        figure.savefig(temporary, format="png")
    return path

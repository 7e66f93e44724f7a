"""
Tests of the plots of both tracks' studies, as a reader sees them: every plot
of the study pages, drawn again from its committed results in English and in
Japanese, and the plots of every CIFAR-10 study drawn from made-up results.

On every plot the legend lies outside the axes, where it covers no curve;
every line, band and bar is named in the legend; no text is smaller than
11 px, nor covers another text, when the image is shown 360 px wide, as on a
phone; and the points of a sweep are far enough apart to be told apart there.
"""

import dataclasses
import itertools
import json
import math
import statistics
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from labml_nn.distillation.cifar10 import pipeline, report, studies
from labml_nn.distillation.lm import pipeline as lm_pipeline
from labml_nn.experiments import reporting

# The language-model track's committed results
LM_RESULTS = Path(lm_pipeline.__file__).parent / 'results'

# The width a phone's page shows a plot at, and the smallest text readable there
PHONE_WIDTH_PX = 360
SMALLEST_TEXT_PX = 11

# The folders of each track's pages, where their images are
PAGES = Path(pipeline.__file__).parent
LM_PAGES = Path(lm_pipeline.__file__).parent


def _capture_figures(draw) -> Tuple[List[Path], List[Any]]:
    """
    The paths `draw()` wrote and the figures it drew them from, in order:
    the figures are kept open, to be measured, instead of closed.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figures = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plt, 'close', figures.append)
        patch.setitem(matplotlib.rcParams, 'figure.max_open_warning', 0)
        paths = draw()
    assert len(paths) == len(figures)
    return paths, figures


def _made_up_results(study: str) -> dict:
    """
    Results of a `study` that never ran, on three classes and three seeds,
    with everything its plots read.
    """
    classes = ['airplane', 'cat', 'dog']
    variants = [dataclasses.asdict(v) for v in studies.STUDIES[study]('cat', 'smoke')]
    for i, variant in enumerate(variants):
        if 'teacher_epoch' in variant['settings']:
            variant['x'] = 60.0 + 5 * i
    runs = [{'model': 'large', 'variant': 'large', 'seed': 0, 'valid_accuracy': 0.8, 'valid_history': [0.5, 0.8],
             'per_class_valid_accuracy': [0.8, 0.7, 0.9]}]
    for seed, (i, variant) in itertools.product(range(3), enumerate(variants)):
        accuracy = 0.6 + 0.03 * i + 0.01 * seed
        run = {'model': variant['model'], 'variant': variant['name'], 'seed': seed, 'valid_accuracy': accuracy,
               'valid_history': [None, accuracy], 'per_class_valid_accuracy': [accuracy, 0.0, accuracy]}
        if 'omit_class' in variant['settings']:
            run |= {'bias': 1.0, 'corrected_per_class_valid_accuracy': [accuracy, 0.4, accuracy - 0.05]}
        runs.append(run)
    return {'study': study, 'classes': classes, 'omitted_class': 'cat' if study == 'omitted-class' else None,
            'variants': variants, 'runs': runs}


@pytest.fixture(scope='module')
def plots(tmp_path_factory) -> List[Tuple[str, Any]]:
    """
    Every plot: each study page's, from its committed results, and each
    CIFAR-10 study's, from made-up results; each named by its file.
    """
    folder = tmp_path_factory.mktemp('plots')
    paths, figures = _capture_figures(lambda: pipeline.redraw_page_plots(folder / 'pages') +
                                      lm_pipeline.redraw_page_plots(folder / 'pages') +
                                      [path for study in report.PLOTS for path in
                                       report.draw_plots(_made_up_results(study), folder / study)])
    yield [(str(path.relative_to(folder)), figure) for path, figure in zip(paths, figures)]
    import matplotlib.pyplot as plt
    for figure in figures:
        plt.close(figure)


def _legends(figure) -> list:
    axes = figure.axes[0]
    return figure.legends + ([axes.get_legend()] if axes.get_legend() else [])


def _tick_labels(axis) -> list:
    """
    The labels of the ticks that are drawn: those inside the axis's view.
    """
    low, high = sorted(axis.get_view_interval())
    return [label for location, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels())
            if low - 1e-9 * abs(high - low) <= location <= high + 1e-9 * abs(high - low)]


def _texts(figure) -> list:
    """
    Every text drawn: tick labels, axis labels, notes on the axes, legends.
    """
    axes = figure.axes[0]
    texts = [*_tick_labels(axes.xaxis), *_tick_labels(axes.yaxis), axes.xaxis.label, axes.yaxis.label, *axes.texts]
    for legend in _legends(figure):
        texts += legend.get_texts()
    return [t for t in texts if t.get_visible() and t.get_text()]


def _phone_px(figure, points: float) -> float:
    """
    A length of `points` on `figure`, in px when the image is shown 360 px wide.
    """
    return points / 72 / figure.get_figwidth() * PHONE_WIDTH_PX


def _flatten(artists) -> list:
    if isinstance(artists, (tuple, list)):
        return [a for child in artists for a in _flatten(child)]
    return [artists]


def test_every_committed_plot_is_redrawn():
    """
    The images beside the pages are the ones `redraw_page_plots` draws.
    """
    committed = {p.name for p in PAGES.glob('*.png')} | {p.name for p in LM_PAGES.glob('*.png')}
    drawn = {f'{plot.image}{suffix}.png' for plot in pipeline.PAGE_PLOTS for suffix in ('', '.ja')}
    drawn |= {f'{image}{suffix}.png' for image in lm_pipeline.PAGE_PLOTS for suffix in ('', '.ja')}
    assert committed == drawn


def test_the_plots_are_drawn_in_japanese(plots):
    if reporting.japanese_font() is None:
        pytest.skip('matplotlib knows no font with Japanese characters here')
    names = [name for name, _ in plots]
    assert 'pages/divergence.ja.png' in names and 'pages/weight_sweep.ja.png' in names
    assert all(name.replace('.png', '.ja.png') in names for name in names if not name.endswith('.ja.png'))


def test_no_legend_covers_the_plot(plots):
    for name, figure in plots:
        renderer = figure.canvas.get_renderer()
        axes_box = figure.axes[0].get_window_extent(renderer)
        for legend in _legends(figure):
            box = legend.get_window_extent(renderer)
            assert not box.overlaps(axes_box), f'{name}: the legend lies on the axes'
            assert figure.bbox.containsx(box.x0) and figure.bbox.containsx(box.x1), f'{name}: legend cut off'
            assert figure.bbox.containsy(box.y0) and figure.bbox.containsy(box.y1), f'{name}: legend cut off'


def test_every_line_is_in_the_legend(plots):
    for name, figure in plots:
        axes = figure.axes[0]
        named = {text.get_text() for legend in _legends(figure) for text in legend.get_texts()}
        # A container (the bars of an error bar, or of one series of bars) is named as a whole
        covered = {id(a) for c in axes.containers if c.get_label() in named for a in _flatten(list(c))}
        drawn = [a for a in [*axes.lines, *axes.patches, *axes.collections] if id(a) not in covered]
        assert drawn or covered, f'{name}: nothing plotted'
        for artist in drawn:
            assert artist.get_label() in named, f'{name}: {artist} is not in the legend ({sorted(named)})'


def test_text_is_readable_on_a_phone(plots):
    for name, figure in plots:
        texts = _texts(figure)
        assert len(texts) >= 4, name
        for text in texts:
            assert _phone_px(figure, text.get_fontsize()) >= SMALLEST_TEXT_PX, \
                f'{name}: {text.get_text()!r} is {_phone_px(figure, text.get_fontsize()):.1f} px at 360 px wide'


def test_no_text_covers_another(plots):
    for name, figure in plots:
        renderer = figure.canvas.get_renderer()
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(figure)]
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
            assert not box_a.overlaps(box_b), f'{name}: {a!r} and {b!r} overlap'


def test_each_axis_of_numbers_has_few_ticks(plots):
    for name, figure in plots:
        axes = figure.axes[0]
        for axis in (axes.xaxis, axes.yaxis):
            labels = [label.get_text().replace('\N{MINUS SIGN}', '-') for label in _tick_labels(axis)]
            if all(label.replace('.', '', 1).lstrip('-').isdigit() for label in labels):
                assert 2 <= len(labels) <= 6, f'{name}: ticks {labels}'


def test_the_points_of_a_sweep_are_told_apart(plots):
    """
    On a phone, the centres of two settings' points are at least a point's
    width apart (the weights 0.99 and 1 were a hundredth of the axis apart).
    """
    sweeps = [(name, figure) for name, figure in plots if 'sweep' in name]
    assert any('weight_sweep' in name for name, _ in sweeps)
    for name, figure in sweeps:
        axes = figure.axes[0]
        (container,) = [c for c in axes.containers if c.has_yerr]
        points = container.lines[0]
        scale = PHONE_WIDTH_PX / figure.bbox.width
        centres = [(x * scale, y * scale) for x, y in points.get_transform().transform(points.get_xydata())]
        width = _phone_px(figure, points.get_markersize())
        for a, b in itertools.combinations(centres, 2):
            assert math.dist(a, b) >= width, f'{name}: two points {math.dist(a, b):.1f} px apart'


def test_the_overview_plot_shows_the_teacher_and_two_students_of_one_seed(plots):
    (figure,) = [figure for name, figure in plots if name == 'pages/accuracy.png']
    assert sorted(t.get_text() for t in figure.legends[0].get_texts()) == [
        'large teacher', 'small, distilled', 'small, labels only']
    assert len(figure.axes[0].lines) == 3


def test_every_language_model_study_has_its_plot_in_both_languages(plots):
    names = {name for name, _ in plots}
    for image in ('limited', 'divergence', 'on_policy', 'on_policy_warm', 'sparse_targets'):
        assert f'pages/{image}.png' in names
        if reporting.japanese_font() is not None:
            assert f'pages/{image}.ja.png' in names


def test_the_sparse_targets_plot_shows_both_forms_against_the_bytes_stored(plots):
    (figure,) = [figure for name, figure in plots if name == 'pages/sparse_targets.png']
    axes = figure.axes[0]
    assert sorted(text.get_text() for legend in _legends(figure) for text in legend.get_texts()) == [
        'dense (512 bytes)', 'labels only', 'online', 'sampled', 'top-k']
    series = [container for container in axes.containers if container.has_yerr]
    assert sorted(container.get_label() for container in series) == ['sampled', 'top-k']
    for container in series:
        assert list(container.lines[0].get_xdata()) == [12, 24, 48, 96]
    # Each point is the median of its variant's seeds, which one seed far behind does not move
    results = json.loads((LM_RESULTS / 'sparse_targets.json').read_text())
    [top_k] = [c for c in series if c.get_label() == 'top-k']
    expected = [statistics.median(r['test_bpb'] for r in results['runs'] if r['variant'] == f'top-{k}')
                for k in (4, 8, 16, 32)]
    assert list(top_k.lines[0].get_ydata()) == pytest.approx(expected)


def test_the_warm_started_runs_are_drawn_from_where_their_start_ended(plots):
    (figure,) = [figure for name, figure in plots if name == 'pages/on_policy_warm.png']
    runs = [line for line in figure.axes[0].lines if line.get_label() != 'teacher (end of training)']
    starts = [line for line in runs if line.get_label() == 'labels only']
    assert len(runs) == 24 and len(starts) == 3
    assert all(max(line.get_xdata()) == 300 for line in starts)
    assert all(min(line.get_xdata()) == 350 and max(line.get_xdata()) == 600 for line in runs if line not in starts)

"""The evaluation report of ``starpose evaluate``: the published action tables, and the
subject x action table that HumanEva-I papers print.

:func:`published_report` is the report of every dataset that has no ``evaluate_report`` hook of
its own (:class:`starpose.data.dataset.Dataset`); a hook has the same signature plus ``predict``
(:func:`~starpose.inference.predictors.predict_windows`, handed down so that a dataset's folder
needs no import of the inference layer): ``report(model, sequences, *, predict, protocol, flip,
by_subject, batch_size, amp, skeleton)`` returns ``(result, text)``, the numbers for the JSON file
and the text to print. :func:`dataset_report` picks one.
"""
from __future__ import annotations

import numpy as np

from starpose.evaluate.protocol import METRIC_TITLES, evaluate_model, format_table
from starpose.inference.predictors import predict_windows

#: The metrics of the subject x action tables: protocols #1 and #2.
MATRIX_METRICS = ("mpjpe", "p_mpjpe")


def dataset_report(dataset, model, sequences, **options) -> tuple[dict, str]:
    """The report of ``dataset``: its own ``evaluate_report`` hook, else :func:`published_report`."""
    if dataset.evaluate_report is not None:
        return dataset.evaluate_report(model, sequences, predict=predict_windows, **options)
    return published_report(model, sequences, **options)


def published_report(model, sequences, *, protocol="published", flip=True, by_subject=False,
                     batch_size=64, amp=None, skeleton=None, trained_on=None) -> tuple[dict, str]:
    """The per-action table of all the subjects evaluated, titled with their names; with
    ``by_subject`` also one per subject, then the subject x action tables of protocols #1 and
    #2. Returns ``({"all": table, subject: table, ...}, text)``."""
    result = evaluate_model(model, sequences, protocol, flip=flip, by_subject=by_subject,
                            batch_size=batch_size, amp=amp, skeleton=skeleton)
    subjects = list(dict.fromkeys(s.subject for s in sequences))
    parts = []
    for name, table in result.items():
        title = subjects_title(subjects) if name == "all" else f"Subject {name}"
        parts.append(format_table(table, f"{title} ({protocol} protocol)"))
    if by_subject:
        per_subject = {name: table for name, table in result.items() if name != "all"}
        parts += [subject_action_table(per_subject, metric) for metric in MATRIX_METRICS]
    return result, "\n\n".join(parts) + "\n"


def subjects_title(subjects: list[str]) -> str:
    """``Subject S11`` or ``Subjects S9, S11``: the title of the table of all the subjects."""
    return ("Subject " if len(subjects) == 1 else "Subjects ") + ", ".join(subjects)


def subject_action_table(result: dict[str, dict[str, dict[str, float]]], metric: str) -> str:
    """A Markdown table of ``metric`` (mm): one row per subject (split prefix dropped, so
    ``Validate/S1`` reads ``S1``), one column per action group, plus the mean over the row's
    actions (the table's ``Average``) and a row of the mean over subjects per action."""
    actions = sorted({a for table in result.values() for a in table if a != "Average"})
    header = f"| {METRIC_TITLES[metric]} (mm) | " + " | ".join(actions) + " | Average |"
    rule = "|---|" + "---:|" * (len(actions) + 1)
    rows, columns = [], {a: [] for a in actions + ["Average"]}
    for subject, table in result.items():
        cells = []
        for action in actions + ["Average"]:
            value = table.get(action, {}).get(metric, float("nan"))
            columns[action].append(value)
            cells.append(f"{value:.1f}")
        rows.append(f"| {subject.rpartition('/')[2]} | " + " | ".join(cells) + " |")
    mean = [f"{np.nanmean(columns[a]):.1f}" for a in actions + ["Average"]]
    rows.append("| **Mean** | " + " | ".join(mean) + " |")
    return "\n".join([f"### {METRIC_TITLES[metric]} by subject and action", "", header, rule] + rows)

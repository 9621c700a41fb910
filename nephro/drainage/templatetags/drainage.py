from django import template

register = template.Library()


@register.inclusion_tag("drainage/_suggestion.html", takes_context=True)
def drainage_suggestion(context, exam):
    """The latest analysis of this exam's images, shown as a suggestion."""
    analysis = exam.drainage_analyses.select_related("review", "review__reviewed_by").first()
    metrics = []
    if analysis is not None and analysis.result:
        r = analysis.result
        metrics = [
            ("Contrast in the bladder", _seconds(r.get("bladder_arrival_s"), "never seen")),
            ("Collecting-system T½", _seconds(r.get("collecting_system_t_half_s"), "—")),
            ("Residual at last frame", _percent(r.get("residual_fraction_last"))),
            ("Leak", "yes" + _onset(r.get("leak_onset_s")) if r.get("leak") else "no"),
            ("Obstruction level", (r.get("obstruction_level") or "—").upper()),
            ("Frames / span", f"{r.get('frames', '—')} / {_seconds(r.get('span_s'), '—')}"),
        ]
    return {
        "exam": exam,
        "analysis": analysis,
        "metrics": metrics,
        "can": context.get("can"),
        "request": context.get("request"),
    }


def _seconds(value, empty: str) -> str:
    if value is None:
        return empty
    value = float(value)
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def _percent(value) -> str:
    return "—" if value is None else f"{float(value) * 100:.0f}%"


def _onset(value) -> str:
    return "" if value is None else f" (from {_seconds(value, '')})"

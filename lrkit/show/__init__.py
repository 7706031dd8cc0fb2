"""What a learner sees: plots (each takes ``ax=None`` and returns it), widget panels over them, the
setup report. Imports from every layer below."""

"""The quadratic playground: gradient descent below, at and beyond the stability limit (lesson 07)."""
from __future__ import annotations

import html

import ipywidgets as W
from matplotlib.figure import Figure

from lrkit.show.panel_base import Panel

__all__ = ["QuadraticPanel"]


class QuadraticPanel(Panel):
    """Gradient descent on a 2-D quadratic, redrawn at once: curvature, condition number, LR and
    momentum; the status says which regime the LR is in (pure NumPy, no training)."""

    def __init__(self, *, lambda_max: float = 10.0, condition: float = 5.0, lr: float = 0.05,
                 momentum: float = 0.0, steps: int = 40):
        super().__init__()
        self.steps = steps
        live = dict(continuous_update=True, style={"description_width": "110px"})
        self.lambda_max = W.FloatLogSlider(value=lambda_max, base=10, min=0, max=2, description="lambda_max",
                                           readout_format=".3g", **live)
        self.condition = W.FloatLogSlider(value=condition, base=10, min=0, max=2, description="condition number",
                                          readout_format=".3g", **live)
        self.lr = W.FloatLogSlider(value=lr, base=10, min=-3, max=0, description="learning rate",
                                   readout_format=".3g", **live)
        self.momentum = W.FloatSlider(value=momentum, min=0.0, max=0.95, step=0.05, description="momentum", **live)
        self._redraw_on(self.lambda_max, self.condition, self.lr, self.momentum)
        self.widget = W.VBox([W.HBox([W.VBox([self.lambda_max, self.condition]), W.VBox([self.lr, self.momentum])]),
                              self.status, self.picture, self.out])
        self.redraw()

    def path(self):
        from lrkit.methods.curvature import gd_on_quadratic

        lam = self.lambda_max.value
        return gd_on_quadratic((lam, lam / self.condition.value), self.lr.value, momentum=self.momentum.value,
                               start=(1.0, 1.0), steps=self.steps)

    def redraw(self, *_) -> None:
        from lrkit.methods.curvature import regime
        from lrkit.show.curvature_plots import plot_quadratic_loss, plot_quadratic_path, update_quadratic_plots

        try:
            path = self.path()
        except ValueError as err:
            self._error(err)
            return
        fig = self.figure
        if fig is None:  # the first draw builds the figure; later ones move its lines
            fig = Figure(figsize=(11, 4.2))
            fig.subplots_adjust(left=0.07, right=0.97, bottom=0.13, top=0.9, wspace=0.3)
            ax_path, ax_loss = fig.subplots(1, 2)
            plot_quadratic_path(path, ax=ax_path)
            plot_quadratic_loss(path, ax=ax_loss)
        else:
            update_quadratic_plots(path, *fig.axes)
        self.status.value = html.escape(regime(path.lr, max(path.eigenvalues), path.momentum))
        self._show(fig)

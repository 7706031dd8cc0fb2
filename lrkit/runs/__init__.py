"""How runs are made and compared: building learners, training records, range tests over seeds
and batch sizes, training conditions side by side. Imports ``lrkit.core`` and ``lrkit.methods``."""

"""What the kit teaches: the range test and its suggestions, schedules, discriminative LRs,
LR-free and schedule-free optimizers, curvature and the noise scale. Imports only ``lrkit.core``."""

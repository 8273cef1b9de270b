"""Training: optimizers and schedules, callbacks, device set-up, the fit of one trial."""

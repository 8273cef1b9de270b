"""Search: study creation and resume, the objective, the progress display, the runner."""

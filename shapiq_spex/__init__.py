"""shapiq-spex."""

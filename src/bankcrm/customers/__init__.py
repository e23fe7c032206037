"""Customer master: personal customers, consent history, versioned contact details."""

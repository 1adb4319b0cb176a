"""In-process runner: reads files or stdin and drives the engine in one process (the embedded default)."""

"""The command-line interface: one module per sub-app, thin over store and engine."""
